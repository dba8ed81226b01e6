"""The budget's worst case holds for any script: input tokens are bounded by UTF-8 bytes.

A byte-level tokeniser (tiktoken, Llama 3, Qwen) at its worst makes one token
per byte, and a chat template adds special tokens around each message. The
tests build that worst case by hand and check the reservation covers it; the
old rule (2 characters per token) reserved 516 tokens for 1000 CJK characters
that can be 3000 tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.config import RunnerProfile, find_runner, find_suite
from evals.cost.pricing import runner_pricing
from evals.providers.base import Usage
from evals.run.budget import worst_case_input_tokens
from evals.run.orchestrate import execute_run
from evals.store.db import Store
from tests.conftest import sim_runner, write_workspace

TEXTS = {
    "cjk": "日本語の文章をここに書きます。" * 70,
    "hangul": "한국어 문장입니다. " * 80,
    "emoji": "🙂🚀👍🏽" * 200,
    "arabic": "هذه جملة باللغة العربية. " * 60,
    "english": "The quick brown fox jumps over the lazy dog. " * 40,
    "code": "def f(x):\n\treturn {k: v for k, v in x.items()}\n" * 40,
}


def byte_level_worst_case(messages: list[dict[str, str]]) -> int:
    """One token per byte of role and content, plus a ChatML template's special
    tokens: <|im_start|>, a newline, <|im_end|>, a newline per message, and
    `<|im_start|>assistant\\n` (1 + 9 + 1) to open the reply."""
    per_message = sum(1 + len(m["role"].encode()) + 1 + len(m["content"].encode()) + 1 + 1 for m in messages)
    return per_message + 11


@pytest.mark.parametrize("script", list(TEXTS))
def test_the_bound_covers_one_token_per_byte(script: str) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": TEXTS[script]}]
    assert worst_case_input_tokens(messages) >= byte_level_worst_case(messages)


def test_the_reservation_prices_the_bound() -> None:
    profile = RunnerProfile.model_validate({"name": "c", **sim_runner("claude", "anthropic")})
    pricing = runner_pricing(profile)
    messages = [{"role": "user", "content": TEXTS["cjk"]}]
    tokens = byte_level_worst_case(messages)
    assert pricing.worst_case_usd(messages, 100) >= pricing.cost_of(Usage(input_tokens=tokens, output_tokens=100))


def test_recorded_spend_never_exceeds_the_budget_on_cjk_prompts(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"c": {**sim_runner("claude", "anthropic"), "concurrency": 8}})
    with open(ws / "tasks" / "mini" / "samples.jsonl", "w", encoding="utf-8") as f:
        for i in range(40):
            f.write(json.dumps({"id": f"s{i}", "input": f"{i}: " + TEXTS["cjk"], "reference": "x"}, ensure_ascii=False) + "\n")
    store = Store(ws / "reports" / "evals.sqlite")
    budget = 0.05
    summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[find_runner(ws, "c")], store=store, quiet=True, budget_usd=budget)
    spent = store.query("SELECT SUM(cost_usd) s, COUNT(*) n FROM attempts WHERE run_id=?", (summary.run_id,))[0]
    assert summary.results["c"].stopped_reason == "budget"
    assert 0 < spent["n"] < 40 and spent["s"] <= budget
