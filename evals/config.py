"""YAML files -> pydantic models that reject unknown keys.

A bad file is reported as `file:line: field: what is wrong; what is expected`,
so a user can fix it without reading code. Loading never writes anything.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evals.errors import UsageError
from evals.providers.base import GenerationParams, Timeouts
from evals.providers.launch import LaunchSpec


class ConfigError(UsageError, ValueError):
    """A configuration or input file is wrong; the message says where and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- suites

SUITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A suite's name becomes a directory and a part of run ids and report paths: no separators, no leading dot."""
SUITE_NAME_RULE = "use letters, digits, '.', '_' and '-', starting with a letter or digit"


class ScorerSpec(_Strict):
    """One scorer of a suite: a registered name, its arguments and its weight in a weighted pass rule."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(default=1.0, ge=0)


class PassRule(_Strict):
    """How scorer results combine into pass/fail.

    all: every scorer passes; any: one passes; weighted: the weighted mean of
    scorer values reaches `threshold`.
    """

    mode: Literal["all", "any", "weighted"] = "all"
    threshold: float = Field(default=1.0, ge=0, le=1)


class CategoryOverride(_Strict):
    scorers: list[ScorerSpec] | None = None
    pass_rule: PassRule | None = None

    @field_validator("scorers", mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return _scorer_shorthand(v)


class FieldMap(_Strict):
    """Which column of the samples file holds each Sample field."""

    id: str = "id"
    input: str = "input"
    reference: str = "reference"
    category: str = "category"
    metadata: str = "metadata"
    scorers: str = "scorers"


def _scorer_shorthand(v: Any) -> Any:
    if isinstance(v, list):
        return [{"name": s} if isinstance(s, str) else s for s in v]
    return v


class Suite(_Strict):
    name: str
    description: str = ""
    samples: str = "samples.jsonl"
    """Path relative to the suite directory; any format `datasets` loads (JSONL, CSV, Parquet)."""
    fields: FieldMap = Field(default_factory=FieldMap)
    system_prompt: str | None = None
    """Prepended as a system message to samples that have none."""
    scorers: list[ScorerSpec] = Field(default_factory=lambda: [ScorerSpec(name="exact")])
    pass_rule: PassRule = Field(default_factory=PassRule)
    categories: dict[str, CategoryOverride] = Field(default_factory=dict)
    plugins: list[str] = Field(default_factory=list)
    """Python files (relative to the suite directory) that register extra scorers."""
    margin: float = Field(default=0.05, gt=0, lt=1)
    """Non-inferiority margin for the verdict, as a fraction (0.05 = 5 points)."""
    workload: dict[str, Any] | None = None
    """The workload profile written by `evals import` (volume, token sizes per category)."""
    epochs: int = Field(default=1, ge=1, le=50)
    """Times each sample is sent to a runner that samples (temperature > 0, unset, or a hosted API that
    takes no temperature); the verdict and the gate use each sample's pass rate over its epochs. A
    runner's own `epochs:` wins. Greedy runners (temperature 0) are sent each sample once."""

    _dir: Path | None = None

    @field_validator("scorers", mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return _scorer_shorthand(v)

    @property
    def dir(self) -> Path:
        assert self._dir is not None, "suite was not loaded from a file"
        return self._dir

    @property
    def samples_path(self) -> Path:
        return self.dir / self.samples

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not SUITE_NAME.fullmatch(v):
            raise ValueError(SUITE_NAME_RULE)
        return v

    def scorers_for(self, category: str) -> list[ScorerSpec]:
        o = self.categories.get(category)
        return o.scorers if o and o.scorers is not None else self.scorers

    def pass_rule_for(self, category: str) -> PassRule:
        o = self.categories.get(category)
        return o.pass_rule if o and o.pass_rule is not None else self.pass_rule


# ---------------------------------------------------------------- runners


class ApiPricing(_Strict):
    """Prices per million tokens. `model` looks them up in the catalogue; any
    price given here overrides the catalogue's."""

    model: str | None = None
    input_per_mtok: float | None = Field(default=None, ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)
    output_per_mtok: float | None = Field(default=None, ge=0)
    batch: bool = False
    """Price at the batch API's rate (about half). For `evals cost` projections; `evals run` accepts it
    only on a runner with `batch:` (whose answers come through the batch API and are priced so anyway)."""


class Purchase(_Strict):
    price_usd: float = Field(gt=0)
    """Purchase price of the whole server (all its GPUs)."""
    amortisation_months: float = Field(default=36, gt=0)
    power_kw: float = Field(default=0.0, ge=0)
    """Average draw of the server under load."""
    pue: float = Field(default=1.3, ge=1)
    price_per_kwh: float = Field(default=0.15, ge=0)
    ops_per_month_usd: float = Field(default=0.0, ge=0)


class SelfHostedPricing(_Strict):
    gpu: str
    """GPU type, e.g. A100-80GB (see the GPU catalogue)."""
    gpus: int = Field(ge=1)
    cloud_price_per_gpu_hour: float | None = Field(default=None, gt=0)
    purchase: Purchase | None = None
    utilisation: float = Field(default=0.6, gt=0, le=1)
    """Expected share of the month the server is busy serving at its measured capacity."""

    @model_validator(mode="after")
    def _one_price(self) -> SelfHostedPricing:
        if (self.cloud_price_per_gpu_hour is None) == (self.purchase is None):
            raise ValueError("give exactly one of cloud_price_per_gpu_hour or purchase")
        return self

    def hourly_cost_usd(self) -> float:
        """What one server costs per wall-clock hour, busy or not."""
        if self.cloud_price_per_gpu_hour is not None:
            return self.cloud_price_per_gpu_hour * self.gpus
        p = self.purchase
        assert p is not None
        hours_per_month = 730.0
        capex = p.price_usd / p.amortisation_months / hours_per_month
        power = p.power_kw * p.pue * p.price_per_kwh
        ops = p.ops_per_month_usd / hours_per_month
        return capex + power + ops


class Pricing(_Strict):
    api: ApiPricing | None = None
    self_hosted: SelfHostedPricing | None = None

    @model_validator(mode="after")
    def _one(self) -> Pricing:
        if (self.api is None) == (self.self_hosted is None):
            raise ValueError("give exactly one of `api` or `self_hosted`")
        return self


class RetryPolicy(_Strict):
    max_attempts: int = Field(default=6, ge=1)
    base_delay_s: float = Field(default=0.5, ge=0)
    max_delay_s: float = Field(default=30.0, ge=0)


class SimBatch(_Strict):
    """How the simulated server's batch endpoints treat this model's requests (OpenAI Batch, Anthropic Message Batches)."""

    delay_s: float = Field(default=0.0, ge=0)
    """Time from submission until the batch has ended; its request counts progress evenly meanwhile."""
    error_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests the batch answers with an error (HTTP 500 in the OpenAI error file, `errored` for Anthropic)."""
    expire_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests left unprocessed when the batch expires (OpenAI status `expired`, Anthropic `expired` results)."""


class SimBehaviour(_Strict):
    """How a simulated model behaves on the simulated server."""

    protocol: Literal["openai", "anthropic"] = "openai"
    accuracy: dict[str, float] = Field(default_factory=lambda: {"default": 0.8})
    """Probability of answering with the reference, per category; `default` for the rest."""
    ttft_ms: float = Field(default=200.0, ge=0)
    tokens_per_second: float = Field(default=50.0, gt=0)
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    retry_after_s: float = Field(default=0.2, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    stall_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0
    flakiness: float = Field(default=0.0, ge=0, le=1)
    """Share of samples on which a sampling request (temperature > 0 or unset; every Anthropic request)
    is right or wrong afresh each time it is sent, at the same accuracy: what epochs measure."""
    quirks: list[Literal["no_stream_usage", "tool_calls_as_text"]] = Field(default_factory=list)
    """Misbehaviours of real servers to imitate: no_stream_usage sends no usage chunk
    in streams even when asked (older TGI and Ollama), so token counts are unknown;
    tool_calls_as_text answers tool calls as `<tool_call>` text, as vLLM does when
    started without the right --tool-call-parser."""
    batch: SimBatch | None = None
    """The batch endpoints' delay, partial errors and expiry for this model; None: no delay, no failures."""

    @field_validator("accuracy")
    @classmethod
    def _probabilities(cls, v: dict[str, float]) -> dict[str, float]:
        for k, p in v.items():
            if not 0 <= p <= 1:
                raise ValueError(f"accuracy[{k}] must be between 0 and 1, got {p}")
        if "default" not in v:
            raise ValueError("accuracy needs a `default` entry for categories it does not list")
        return v


class BatchMode(_Strict):
    """Send a runner's requests through its vendor's batch API (OpenAI Batch, Anthropic Message Batches)
    at the catalogue's batch rate (about half): results within 24 hours, so no latency figures."""

    retry: Literal["batch", "sync"] = "batch"
    """Where a batch's failed requests (errored, expired, cancelled) go: a follow-up batch at the batch
    rate, or the synchronous API at the full rate (faster, dearer)."""
    rounds: int = Field(default=3, ge=1)
    """Batches per request at most, the first included, before a failure stands (retry: batch)."""
    poll_s: float = Field(default=30.0, gt=0)
    """First wait between status checks; doubles up to poll_max_s."""
    poll_max_s: float = Field(default=300.0, gt=0)
    wait_s: float | None = Field(default=None, gt=0)
    """How long `evals run` waits for the batches before leaving them in flight (collect them later
    with `evals run --collect`); None waits until they end (the vendors' window is 24 hours)."""


BATCH_PROVIDERS = ("openai", "anthropic", "simulated")
"""Providers whose runners can use batch mode (a simulated runner through its protocol's batch endpoints)."""


class RunnerProfile(_Strict):
    name: str
    provider: str
    """A registered provider: openai_compatible, openai, anthropic, simulated, vllm_offline, or one an
    installed package adds (entry point group `workload_evals.providers`)."""
    model: str
    description: str = ""
    base_url: str | None = None
    base_urls: list[str] | None = None
    """Several replicas of one deployment; requests are spread across them."""
    api_key_env: str | None = None
    """Name of the environment variable holding the key. The key itself never goes in a file."""
    role: Literal["reference", "candidate"] = "candidate"
    params: GenerationParams = Field(default_factory=GenerationParams)
    concurrency: int = Field(default=16, ge=1)
    stream: bool = True
    """Stream responses (time to first token from the server). Turn off for servers whose streams misbehave."""
    timeouts: Timeouts = Field(default_factory=Timeouts)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    pricing: Pricing
    simulate: SimBehaviour | None = None
    launch: LaunchSpec | None = None
    """Start the server for this run (`vllm serve ...`) and stop it afterwards. Only for
    openai_compatible; the base URL comes from the launched server, so give no base_url."""
    engine: dict[str, Any] | None = None
    """vllm_offline only: keyword arguments for `vllm.AsyncEngineArgs` (tensor_parallel_size, quantization, max_model_len, ...)."""
    batch: BatchMode | None = None
    """`batch: true` (or a block of BatchMode settings) sends this runner's requests through the vendor's
    batch API at the batch rate; openai, anthropic and simulated runners only."""
    epochs: int | None = Field(default=None, ge=1, le=50)
    """Times each sample is sent when this runner samples (see Suite.epochs, which it overrides)."""
    client: Literal["sdk", "lean"] = "sdk"
    """How requests go on the wire: `sdk`, the official openai SDK; `lean`, a minimal HTTP/1.1 + SSE
    client (evals/providers/openai_lean.py) whose per-event cost stays small at hundreds of streams.
    `lean` is for openai_compatible and OpenAI-protocol simulated runners only; hosted APIs keep their SDKs."""

    @field_validator("batch", mode="before")
    @classmethod
    def _batch_flag(cls, v: Any) -> Any:
        return ({} if v else None) if isinstance(v, bool) else v

    @field_validator("provider")
    @classmethod
    def _registered(cls, v: str) -> str:
        from evals.providers.registry import names

        known = names()
        if v not in known:
            raise ValueError(f"unknown provider {v!r}; known: {', '.join(known)} (packages add more through the `workload_evals.providers` entry point group)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> RunnerProfile:
        if self.base_url and self.base_urls:
            raise ValueError("give base_url or base_urls, not both")
        if self.provider == "simulated" and self.simulate is None:
            raise ValueError("a simulated runner needs a `simulate:` block")
        if self.provider != "simulated" and self.simulate is not None:
            raise ValueError("`simulate:` is only for provider: simulated")
        if self.launch is not None:
            if self.provider != "openai_compatible":
                raise ValueError("`launch:` starts an OpenAI-compatible server; it needs provider: openai_compatible")
            if self.urls():
                raise ValueError("a launched runner's URL comes from the server it starts; remove base_url/base_urls")
            served = self.launch.names_served()
            if self.launch.runs_vllm and self.model not in served:
                raise ValueError(f"model {self.model!r} is not served by the launched vLLM; use one of {sorted(served)}")
        elif self.provider == "openai_compatible" and not self.urls():
            raise ValueError("openai_compatible needs base_url (e.g. http://localhost:8000/v1) or a `launch:` block")
        if self.engine is not None and self.provider != "vllm_offline":
            raise ValueError("`engine:` is only for provider: vllm_offline")
        if self.provider == "vllm_offline" and self.urls():
            raise ValueError("vllm_offline runs the model in this process; remove base_url/base_urls")
        if self.batch is not None and self.provider not in BATCH_PROVIDERS:
            raise ValueError(f"`batch:` uses a vendor's batch API; provider {self.provider} has none (batch works for {', '.join(BATCH_PROVIDERS)})")
        if self.client == "lean" and not (self.provider == "openai_compatible" or (self.simulate is not None and self.simulate.protocol == "openai")):
            raise ValueError(f"`client: lean` speaks the OpenAI chat protocol to self-hosted servers; provider {self.provider} keeps its SDK (use client: sdk)")
        if self.client == "lean" and self.batch is not None:
            raise ValueError("`client: lean` streams requests one by one; batch mode goes through the SDK (remove one of them)")
        return self

    @property
    def simulated(self) -> bool:
        return self.provider == "simulated"

    def urls(self) -> list[str]:
        if self.base_urls:
            return list(self.base_urls)
        return [self.base_url] if self.base_url else []

    def profile_hash(self) -> str:
        # a profile without batch mode hashes as it did before the field existed
        # (likewise one on the default sdk client)
        default = {k for k, v in (("batch", self.batch is None), ("client", self.client == "sdk"), ("epochs", self.epochs is None)) if v}
        return hashlib.sha256(self.model_dump_json(exclude=default or None).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- loading


def _line_of(path: Path, text: str, loc: tuple[Any, ...]) -> int | None:
    """Line (1-based) of the YAML node at `loc`, or of its nearest existing parent."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == str(key):
                    nxt, line = v, k.start_mark.line + 1
                    break
            if nxt is None:
                return line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


_TITLES = {"_ApiPriceOverrides": "price file", "_GradingKeys": "grading file", "ApiPriceCatalogue": "price catalogue", "GpuCatalogue": "GPU catalogue", "RunnerProfile": "runner profile"}


def _what(title: str) -> str:
    """What the file is in the user's words, not the class that reads it: `NightlyConfig` -> "nightly config"."""
    words = title.lstrip("_")
    return _TITLES.get(title) or "".join(" " + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(words))


def format_validation_error(path: Path, text: str, err: ValidationError) -> str:
    lines = [f"{path}: invalid {_what(err.title)}:"]
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        field = ".".join(str(x) for x in loc) or "(top level)"
        line = _line_of(path, text, loc)
        where = f"{path}:{line}" if line else str(path)
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif e["type"] == "missing":
            msg = "required field is missing"
        got = e.get("input")
        hint = f" (got {got!r})" if e["type"] not in ("missing",) and not isinstance(got, dict) else ""
        lines.append(f"  {where}: `{field}`: {msg}{hint}")
    return "\n".join(lines)


def read_yaml(path: Path) -> tuple[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    if not path.is_file():
        raise ConfigError(f"{path}: is a directory or other non-file; give the path of a YAML file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 (byte 0x{raw[e.start]:02x}); save the file as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields at the top level, got {type(data).__name__}")
    return text, data


def load_suite(path: str | Path) -> Suite:
    """Load `tasks/<suite>/suite.yaml` (or the directory holding it)."""
    p = Path(path)
    if p.is_dir():
        p = p / "suite.yaml"
    text, data = read_yaml(p)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(p, text, e)) from None
    suite._dir = p.parent.resolve()
    if not suite.samples_path.is_file():
        line = _line_of(p, text, ("samples",))
        what = f"{suite.samples_path} is a directory, not a file" if suite.samples_path.is_dir() else f"file {suite.samples_path} not found"
        raise ConfigError(f"{p}:{line or 1}: `samples`: {what}")
    return suite


def load_runner(path: str | Path) -> RunnerProfile:
    p = Path(path)
    text, data = read_yaml(p)
    try:
        return RunnerProfile.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(p, text, e)) from None


def find_runner(workspace: Path, name_or_path: str) -> RunnerProfile:
    """A runner by file path, or by name from `runners/<name>.yaml` or a folder below it (`runners/variants/`)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return load_runner(p)
    root = workspace / "runners"
    cand = root / f"{name_or_path}.yaml"
    if cand.exists():
        return load_runner(cand)
    nested = sorted(root.glob(f"*/**/{name_or_path}.yaml"))
    if len(nested) > 1:
        raise ConfigError(f"runner {name_or_path!r} is in several folders: {', '.join(map(str, nested))}; give the path of the one you mean")
    if nested:
        return load_runner(nested[0])
    top = sorted(x.stem for x in root.glob("*.yaml"))
    below = sorted(str(x.relative_to(root).with_suffix("")) for x in root.glob("*/**/*.yaml"))
    listing = f"Known runners: {', '.join(top) or 'none'}" + (f"; in subfolders (use the name alone): {', '.join(below)}" if below else "")
    raise ConfigError(f"runner {name_or_path!r} not found: no file {cand} nor {name_or_path}.yaml below {root}. {listing}")


def find_suite(workspace: Path, name_or_path: str) -> Suite:
    p = Path(name_or_path)
    if p.exists():
        return load_suite(p)
    cand = workspace / "tasks" / name_or_path
    if cand.exists():
        return load_suite(cand)
    known = sorted(x.parent.name for x in (workspace / "tasks").glob("*/suite.yaml"))
    raise ConfigError(f"suite {name_or_path!r} not found: no directory {cand}. Known suites: {', '.join(known) or 'none'}")
