"""The documented variant runner profiles (quantisation, LoRA, tensor
parallelism, replicas, other servers) load, and say what they claim to."""

from __future__ import annotations

from pathlib import Path

import pytest

import evals
from evals.config import RunnerProfile, load_runner
from evals.run.keys import request_identity

VARIANTS = Path(evals.__file__).resolve().parent / "examples" / "workspace" / "runners" / "variants"
EXPECTED = {
    "llama-3.3-70b-fp8",
    "llama-3.1-8b-lora",
    "llama-3.3-70b-tp8",
    "llama-3.3-70b-replicas",
    "sglang-qwen",
    "tgi-llama",
    "ollama-llama",
    "llamacpp",
    "llama-3.3-70b-tools",
    "qwen-2.5-72b-tools",
}


def _load(name: str) -> RunnerProfile:
    return load_runner(VARIANTS / f"{name}.yaml")


def test_every_variant_is_there() -> None:
    assert {p.stem for p in VARIANTS.glob("*.yaml")} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_variant_loads_is_documented_and_self_hosted(name: str) -> None:
    r = _load(name)
    assert r.name == name and r.provider == "openai_compatible"
    assert r.pricing.self_hosted is not None, "variants compare deployments, priced per GPU-hour"
    assert (VARIANTS / f"{name}.yaml").read_text().startswith("#"), "each variant explains its server's quirks"
    assert r.launch is not None or r.urls()
    request_identity(r)  # keyed for resume without a URL when launched


def _argv(name: str) -> str:
    r = _load(name)
    assert r.launch is not None
    return " ".join(r.launch.argv(8000))


def test_fp8_variant_quantises() -> None:
    assert "--quantization fp8" in _argv("llama-3.3-70b-fp8")
    assert _load("llama-3.3-70b-fp8").pricing.self_hosted.gpus == 2  # type: ignore[union-attr]


def test_lora_variant_names_the_adapter_as_its_model() -> None:
    r = _load("llama-3.1-8b-lora")
    assert r.launch is not None and r.model in r.launch.lora_modules
    argv = _argv("llama-3.1-8b-lora")
    assert "--enable-lora" in argv and f"--lora-modules {r.model}={r.launch.lora_modules[r.model]}" in argv


def test_tp8_variant_splits_over_eight_gpus() -> None:
    assert "--tensor-parallel-size 8" in _argv("llama-3.3-70b-tp8")
    assert _load("llama-3.3-70b-tp8").pricing.self_hosted.gpus == 8  # type: ignore[union-attr]


def test_replicas_variant_lists_its_urls() -> None:
    r = _load("llama-3.3-70b-replicas")
    assert r.launch is None and len(r.urls()) == 2 and len(set(r.urls())) == 2


def test_other_servers_use_their_own_command_lines_and_ports() -> None:
    assert _argv("sglang-qwen").startswith("python -m sglang.launch_server --model-path Qwen/Qwen2.5-72B-Instruct --host 127.0.0.1 --port 8000")
    assert _argv("llamacpp").startswith("llama-server -m /models/")
    assert _load("ollama-llama").base_url == "http://localhost:11434/v1"
    assert _load("tgi-llama").base_url == "http://localhost:8080/v1"


@pytest.mark.parametrize(("name", "parser"), [("llama-3.3-70b-tools", "llama3_json"), ("qwen-2.5-72b-tools", "hermes")])
def test_tool_calling_variants_pass_vllms_tool_flags(name: str, parser: str) -> None:
    argv = _argv(name)
    assert "--enable-auto-tool-choice" in argv and f"--tool-call-parser {parser}" in argv
    assert ("--chat-template tool_chat_template_llama3.1_json.jinja" in argv) == (parser == "llama3_json")


def test_auto_tool_choice_needs_a_parser() -> None:
    from pydantic import ValidationError

    from evals.providers.launch import LaunchSpec

    with pytest.raises(ValidationError, match="tool_call_parser"):
        LaunchSpec(model="m", enable_auto_tool_choice=True)
    with pytest.raises(ValidationError, match="only apply to vLLM"):
        LaunchSpec(model="m", command=["llama-server"], tool_call_parser="hermes")
