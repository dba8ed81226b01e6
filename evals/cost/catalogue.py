"""The dated catalogues that ship with the tool: API prices, GPUs, open models.

Every entry says where its figures came from (`source`) and when they were
read (`as_of`), because a cost report is only as trustworthy as its inputs and
prices move. The files live in `evals/cost/data/`; a user's price file
replaces or adds entries (a negotiated rate, a model released after this
catalogue), and a catalogue older than a few months is flagged as stale.

Look-ups accept an id or any of its aliases. API model ids match exactly (up
to case): a dated snapshot can carry a different price from its alias, so
dates are never stripped implicitly; each snapshot that shares the price is
listed as an alias instead. GPU and model names are matched loosely (case,
spaces and punctuation ignored) since they arrive from hand-written profiles
and from `nvidia-smi`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.config import ConfigError, format_validation_error, read_yaml

DATA_DIR = Path(__file__).with_name("data")
STALE_DAYS = 90


def is_stale(as_of: date, today: date, days: int = STALE_DAYS) -> bool:
    """Prices read more than `days` ago may have moved since."""
    return (today - as_of).days > days


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Entry(_Strict):
    aliases: list[str] = Field(default_factory=list)
    source: str
    """Where the figures were read: a URL, or for a user's file any reference (a contract)."""
    as_of: date
    """When the figures were read."""
    note: str | None = None
    """What could not be confirmed, what was derived, what to watch for."""


# ---------------------------------------------------------------- API prices


class LongContextRates(_Strict):
    """Higher rates a vendor bills for the whole request once its prompt is longer than a threshold."""

    above_input_tokens: int = Field(gt=0)
    """Prompt length (input tokens, cached and cache-written included) above which these rates apply."""
    input: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    output: float = Field(ge=0)


class ApiPrice(_Entry):
    """USD per million tokens for one hosted model."""

    provider: str
    input: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    """Cache reads. None: the provider has no cheaper cached rate (billed as input)."""
    cache_write: float | None = Field(default=None, ge=0)
    """Anthropic's 5-minute cache write. None: writes are not billed apart (billed as input)."""
    output: float = Field(ge=0)
    """Reasoning tokens are output tokens and are billed at this rate."""
    batch_discount: float = Field(default=1.0, gt=0, le=1)
    """Factor applied to every rate in the batch API (0.5 = half price)."""
    long_context: LongContextRates | None = None
    """Tiered pricing by prompt length, where the vendor has it."""
    retires_on: date | None = None
    """The vendor's retirement date for its API: requests fail from that day. None: no date announced."""
    retirement_source: str | None = None
    """Where the retirement date was read (the vendor's deprecations or model page)."""

    def retired(self, today: date) -> bool:
        """Past its retirement date: the vendor no longer serves it, whatever the price says."""
        return self.retires_on is not None and today >= self.retires_on

    def retirement_note(self, model: str, today: date) -> str | None:
        """A sentence for a retired or retiring model; None when no date is announced."""
        if self.retires_on is None:
            return None
        src = f" ({self.retirement_source})" if self.retirement_source else ""
        if self.retired(today):
            return f"{model} was RETIRED by its vendor on {self.retires_on}{src}: requests to it fail; move to a current model"
        return f"{model} retires on {self.retires_on}{src}: plan the move to a current model"


class ApiPriceCatalogue(_Strict):
    catalogue_as_of: date
    models: dict[str, ApiPrice]

    def get(self, model: str) -> ApiPrice:
        """Prices for a model id or alias; the error lists every known id."""
        hint = "check the spelling, give its prices in the runner profile, or add it to a price file"
        return _resolve(self.models, model, "API model", _exact_key, hint=hint)[1]

    def catalogue_age_days(self, today: date) -> int:
        return (today - self.catalogue_as_of).days

    def is_stale(self, today: date, days: int = STALE_DAYS) -> bool:
        """Older than `days`: prices may have moved since; the report says so."""
        return is_stale(self.catalogue_as_of, today, days)



class _ApiPriceOverrides(_Strict):
    """A user's price file: same entries, and the date is optional."""

    catalogue_as_of: date | None = None
    models: dict[str, ApiPrice]


def load_api_prices(override_path: Path | None = None) -> ApiPriceCatalogue:
    """The shipped API price catalogue, with a user's file laid over it.

    An entry in the user's file replaces the shipped entry it names (by id or
    alias; the shipped aliases are kept unless the user gives some) or adds a
    new model. The merged catalogue is as old as its older part, so a fresh
    user file does not hide stale shipped prices.
    """
    base = _load(DATA_DIR / "api_prices.yaml", ApiPriceCatalogue, lambda c: c.models)
    if override_path is None:
        return base
    user = _load(Path(override_path), _ApiPriceOverrides, lambda c: c.models)
    models = dict(base.models)
    for key, entry in user.models.items():
        found = _find(models, key, _exact_key)
        if found is not None:
            key, shipped = found
            if not entry.aliases:
                entry = entry.model_copy(update={"aliases": shipped.aliases})
        models[key] = entry
    as_of = min(base.catalogue_as_of, user.catalogue_as_of or base.catalogue_as_of)
    merged = ApiPriceCatalogue(catalogue_as_of=as_of, models=models)
    _check_unique(merged.models, _exact_key, Path(override_path))
    return merged


# ---------------------------------------------------------------- GPUs


class CloudPrice(_Strict):
    usd_per_gpu_hour: float = Field(gt=0)
    provider: str
    market: str
    """Which offer: on-demand VM, always-on serverless worker, spot..."""
    source: str
    as_of: date
    note: str | None = None


class GpuSpec(_Strict):
    """Figures per GPU. Decimal units: GB = 1e9 bytes, GB/s = 1e9 bytes/s."""

    aliases: list[str] = Field(default_factory=list)
    memory_gb: float = Field(gt=0)
    memory_bandwidth_gbps: float = Field(gt=0)
    bf16_tflops: float = Field(gt=0)
    """Dense (no sparsity) tensor-core BF16 TFLOPS."""
    fp8_tflops: float | None = Field(default=None, gt=0)
    """Dense tensor-core FP8 TFLOPS; None where the GPU has no FP8 tensor cores."""
    tdp_w: float = Field(gt=0)
    interconnect: str | None = None
    """How GPUs of a node talk to each other (NVLink or PCIe): tensor parallelism exchanges activations every layer over it."""
    cloud_price: CloudPrice
    sources: list[str] = Field(min_length=1)
    as_of: date
    note: str | None = None


class GpuCatalogue(_Strict):
    gpus: dict[str, GpuSpec]

    def get(self, gpu: str) -> GpuSpec:
        return _resolve(self.gpus, gpu, "GPU", _loose_gpu_key)[1]


def load_gpus() -> GpuCatalogue:
    return _load(DATA_DIR / "gpus.yaml", GpuCatalogue, lambda c: c.gpus, key=_loose_gpu_key)


# ---------------------------------------------------------------- open models


class ModelSpec(_Entry):
    """The architecture figures that size a deployment, from the model's config.json."""

    hf_id: str
    params_b_total: float = Field(gt=0)
    params_b_active: float = Field(gt=0)
    """Parameters used per token: equal to the total for dense models, less for MoE."""
    num_layers: int = Field(gt=0)
    num_attention_heads: int = Field(gt=0)
    num_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    context_length: int = Field(gt=0)

    @property
    def is_moe(self) -> bool:
        return self.params_b_active < self.params_b_total


class ModelCatalogue(_Strict):
    models: dict[str, ModelSpec]

    def get(self, model: str) -> ModelSpec:
        """By catalogue id, alias or Hugging Face id."""
        return _resolve(self.models, model, "model", _loose_key, extra=lambda m: [m.hf_id])[1]


def load_models() -> ModelCatalogue:
    return _load(DATA_DIR / "models.yaml", ModelCatalogue, lambda c: c.models, key=_loose_key, extra=lambda m: [m.hf_id])


# ---------------------------------------------------------------- shared


E = TypeVar("E")
C = TypeVar("C", bound=BaseModel)
Key = Callable[[str], str]


def _exact_key(name: str) -> str:
    return name.strip().casefold()


def _loose_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _loose_gpu_key(name: str) -> str:
    # `nvidia-smi` says "NVIDIA GeForce RTX 4090"; profiles say "RTX-4090".
    return re.sub(r"^(nvidia)?(geforce)?", "", _loose_key(name))


def _names(entry_id: str, entry: E, extra: Callable[[E], list[str]] | None) -> list[str]:
    names = [entry_id, *getattr(entry, "aliases", [])]
    return names + (extra(entry) if extra else [])


def _find(
    entries: dict[str, E], name: str, key: Key, extra: Callable[[E], list[str]] | None = None
) -> tuple[str, E] | None:
    wanted = key(name)
    for entry_id, entry in entries.items():
        if wanted in {key(n) for n in _names(entry_id, entry, extra)}:
            return entry_id, entry
    return None


def _resolve(
    entries: dict[str, E],
    name: str,
    kind: str,
    key: Key,
    extra: Callable[[E], list[str]] | None = None,
    hint: str = "check the spelling",
) -> tuple[str, E]:
    found = _find(entries, name, key, extra)
    if found is None:
        known = ", ".join(sorted(entries))
        raise ConfigError(f"unknown {kind} {name!r}; known: {known}. {hint[0].upper()}{hint[1:]}.")
    return found


def _check_unique(entries: dict[str, E], key: Key, path: Path, extra: Callable[[E], list[str]] | None = None) -> None:
    owner: dict[str, str] = {}
    for entry_id, entry in entries.items():
        for name in _names(entry_id, entry, extra):
            k = key(name)
            if owner.setdefault(k, entry_id) != entry_id:
                raise ConfigError(f"{path}: name {name!r} of {entry_id!r} is already used by {owner[k]!r}")


def _load(
    path: Path,
    model: type[C],
    entries: Callable[[C], dict[str, Any]],
    key: Key = _exact_key,
    extra: Callable[[Any], list[str]] | None = None,
) -> C:
    """Validate a catalogue file, reporting `file:line` on error, and refuse a name used twice."""
    text, data = read_yaml(path)
    try:
        catalogue = model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(path, text, e)) from None
    _check_unique(entries(catalogue), key, path, extra)
    return catalogue

