"""`evals size`: one node at most, tensor-parallel counts vLLM accepts, KV reads in the per-sequence
bound, any model from its Hugging Face config.json, and a non-zero exit when it does not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evals.cli import main
from evals.config import ConfigError
from evals.cost.catalogue import load_gpus, load_models
from evals.cost.sizing import model_from_hf_config, size, tensor_parallel_sizes

LLAMA_8B_CONFIG = {
    "_name_or_path": "meta-llama/Llama-3.1-8B-Instruct",
    "model_type": "llama",
    "vocab_size": 128256,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
}
MIXTRAL_CONFIG = {
    "model_type": "mixtral",
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "max_position_embeddings": 32768,
}


def _write(tmp_path: Path, cfg: dict[str, object]) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_per_sequence_bound_reads_the_kv_cache_of_every_sequence() -> None:
    llama8, h100 = load_models().get("llama-3.1-8b"), load_gpus().get("H100-SXM")
    r = size(llama8, h100, "fp16", context_tokens=32768, concurrency=64)
    # KV per token: 2 × 32 layers × 8 KV heads × 128 × 2 B = 131,072 B; 64 × 32,768 tokens → 274.878 GB.
    # Weights 8.03e9 × 2 B = 16.06 GB; 290.938 GB over 72 GB usable per GPU → 4.04 → 8 (1, 2, 4, 8 split 32/8 heads).
    assert r.kv_bytes_needed == 64 * 32768 * 131072
    assert r.gpus == 8 and r.fits
    # A step reads 16.06 + 274.878 = 290.938 GB at 8 × 3,350 GB/s = 26,800 GB/s → 92.12 tokens/s per sequence,
    # not 26,800 / 16.06 = 1,668.7 (weights only).
    step = 16.06e9 + 64 * 32768 * 131072
    assert r.step_bytes == pytest.approx(step)
    assert r.decode_tokens_per_s_per_sequence_bound == pytest.approx(26_800e9 / step, rel=1e-9)
    assert r.aggregate_decode_bound(64, 32768) == pytest.approx(64 * 26_800e9 / step, rel=1e-9)


def test_counts_stay_within_one_node_and_split_the_heads() -> None:
    llama70, a100_40 = load_models().get("llama-3.3-70b"), load_gpus().get("A100-40GB")
    assert tensor_parallel_sizes(llama70) == [1, 2, 4, 8]  # 64 heads, 8 KV heads
    # fp16: 141.2 GB of weights + 16 × 8,192 × 327,680 B (42.95 GB) = 184.15 GB > 4 × 36 GB; 8 × 36 = 288 GB holds it.
    assert size(llama70, a100_40, "fp16", 8192, 16).gpus == 8
    # At 32k context: 141.2 + 16 × 32,768 × 327,680 B (171.8 GB) = 313 GB > 288 GB: no count of one node holds it.
    r = size(llama70, a100_40, "fp16", 32768, 16)
    assert (r.gpus, r.fits) == (8, False)
    with pytest.raises(ValueError, match="one node holds 1 to 8 GPUs"):
        size(llama70, a100_40, "fp16", 8192, 16, gpus=16)
    assert "NVLink" in (r.interconnect or "")


def test_hf_config_parameter_count_dense(tmp_path: Path) -> None:
    m = model_from_hf_config(_write(tmp_path, LLAMA_8B_CONFIG))
    # Embedding and untied head: 2 × 128,256 × 4,096 = 1,050,673,152.
    # Per layer: q, o 2 × 4,096 × 4,096 = 33,554,432; k, v 2 × 4,096 × 1,024 = 8,388,608;
    #   MLP 3 × 4,096 × 14,336 = 176,160,768; norms 2 × 4,096 = 8,192 → 218,112,000 × 32 = 6,979,584,000.
    # Final norm 4,096. Total 8,030,261,248 (the model card's 8.03B).
    assert m.params_b_total * 1e9 == pytest.approx(8_030_261_248)
    assert m.params_b_active == m.params_b_total
    assert (m.num_layers, m.num_kv_heads, m.head_dim, m.context_length) == (32, 8, 128, 131072)
    assert m.hf_id == "meta-llama/Llama-3.1-8B-Instruct"


def test_hf_config_parameter_count_mixture_of_experts(tmp_path: Path) -> None:
    m = model_from_hf_config(_write(tmp_path, MIXTRAL_CONFIG))
    # Per layer: attention 41,943,040 + router 4,096 × 8 = 32,768 + norms 8,192 = 41,984,000,
    #   experts 8 × 3 × 4,096 × 14,336 = 1,409,286,144 (2 active: 352,321,536).
    # Outside the layers: 2 × 32,000 × 4,096 + 4,096 = 262,148,096.
    assert m.params_b_total * 1e9 == pytest.approx(32 * (41_984_000 + 1_409_286_144) + 262_148_096)  # 46.70B
    assert m.params_b_active * 1e9 == pytest.approx(32 * (41_984_000 + 352_321_536) + 262_148_096)  # 12.88B


def test_hf_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    cfg = dict(LLAMA_8B_CONFIG)
    del cfg["num_hidden_layers"]
    with pytest.raises(ConfigError, match=r"config\.json: field 'num_hidden_layers'.* is missing"):
        model_from_hf_config(_write(tmp_path, cfg))
    with pytest.raises(ConfigError, match="no such file"):
        model_from_hf_config(tmp_path / "nope.json")


def test_cli_size_from_config_and_exit_codes(tmp_path: Path) -> None:
    path = _write(tmp_path, LLAMA_8B_CONFIG)
    r = CliRunner().invoke(main, ["size", "--config", str(path), "--gpu", "H100-SXM", "--concurrency", "4", "--context", "4096"])
    assert r.exit_code == 0, r.output
    assert "8.03B parameters" in r.output and "fits" in r.output and "NVLink 4" in r.output
    # Does not fit on one node: exit 1, no bound printed.
    r = CliRunner().invoke(main, ["size", "--model", "llama-3.1-405b", "--gpu", "RTX-4090"])
    assert r.exit_code == 1 and "DOES NOT FIT" in r.output and "decode bound" not in r.output
    r = CliRunner().invoke(main, ["size", "--model", "llama-3.1-405b", "--gpu", "RTX-4090", "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["fits"] is False
    # More GPUs than a node holds, or no model: bad input, exit 2.
    r = CliRunner().invoke(main, ["size", "--model", "llama-3.3-70b", "--gpu", "RTX-4090", "--gpus", "16"])
    assert r.exit_code == 2 and "one node holds 1 to 8 GPUs" in r.output
    r = CliRunner().invoke(main, ["size", "--gpu", "RTX-4090"])
    assert r.exit_code == 2 and "--config PATH" in r.output
