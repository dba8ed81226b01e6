"""Benchmark `evals import`: generate an OpenAI-style chat log and import it with sampling.

    python benchmarks/bench_import.py --lines 1000000 --sample 500

The log is written to a temporary directory (about 1.9 KB a line: a system
prompt, one or two user turns, an answer, usage and a timestamp; a few
percent of lines hold emails, phone numbers, card numbers or keys, and one
line in eight reuses an earlier question, as is or with one word changed).
Prints lines per second of the import alone (by wall clock, and per CPU
second, which is what to compare on a shared machine) and peak memory: the
process's maximum resident set size (ru_maxrss) and, with --tracemalloc, the
peak of traced allocations (tracing slows the import three- to fourfold, so
it is off by default).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import string
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from evals.traffic import ImportOptions, import_traffic

_WORDS = (
    "the a an to of and in for on with my our your this that is are was be can could would please help need "
    "order account invoice refund shipping delivery password reset login error issue problem question customer "
    "support billing payment card charge subscription plan upgrade cancel update address email phone number "
    "function class return value list dict string python code test bug stack trace exception import module "
    "data table query sql join index report summary translate english french german text document contract "
    "clause policy section page paragraph meeting notes action items deadline project budget forecast quarter "
    "revenue cost price product feature release version api endpoint request response timeout retry latency"
).split()
_SYSTEMS = {
    "support": "You are a helpful customer support assistant for Acme Corp. Answer politely and concisely. "
    "Never promise refunds you cannot approve; escalate billing disputes to a human agent. " * 2,
    "code": "You are a senior software engineer. Explain code clearly, point out bugs, and propose minimal "
    "fixes with tests. Prefer the standard library. " * 2,
    "summarise": "Summarise the user's document in five bullet points, then list action items with owners "
    "and deadlines. Keep the original language. " * 2,
    "translate": "Translate the user's text faithfully, keeping formatting, names and numbers unchanged. ",
    "sql": "You write PostgreSQL queries for the analytics warehouse. Return only the query and a one-line "
    "explanation. ",
}
_CATEGORIES = list(_SYSTEMS)
_WEIGHTS = [0.45, 0.25, 0.15, 0.1, 0.05]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(_WORDS, k=words))


def _pii(rng: random.Random) -> str:
    """Planted personal data and fake keys in a few percent of requests (built here, never stored in the repo)."""
    r = rng.random()
    if r < 0.03:
        return f" Contact me at user{rng.randrange(10**6)}@example.com."
    if r < 0.04:
        return f" Call me on +1 415 555 {rng.randrange(1000, 9999)}."
    if r < 0.045:
        return " My card is 4111 1111 1111 1111, exp 12/29."
    if r < 0.048:
        return " key = sk-proj-" + "".join(rng.choices(string.ascii_letters + string.digits, k=40))
    return ""


def generate(path: Path, lines: int, seed: int) -> None:
    rng = random.Random(seed)
    recent: list[tuple[str, str]] = []
    start = 1_735_689_600  # 2025-01-01T00:00:00Z
    with path.open("w", encoding="utf-8") as f:
        for i in range(lines):
            r = rng.random()
            if recent and r < 0.08:
                category, user = rng.choice(recent)
            elif recent and r < 0.12:
                category, user = rng.choice(recent)
                words = user.split(" ")
                words[rng.randrange(len(words))] = rng.choice(_WORDS)
                user = " ".join(words)
            else:
                category = rng.choices(_CATEGORIES, _WEIGHTS)[0]
                user = _text(rng, rng.randint(10, 150)) + _pii(rng)
                if len(recent) < 5000:
                    recent.append((category, user))
                else:
                    recent[rng.randrange(5000)] = (category, user)
            messages = [{"role": "system", "content": _SYSTEMS[category]}]
            if rng.random() < 0.2:
                messages += [
                    {"role": "user", "content": _text(rng, rng.randint(10, 60))},
                    {"role": "assistant", "content": _text(rng, rng.randint(20, 120))},
                ]
            messages.append({"role": "user", "content": user})
            answer = _text(rng, rng.randint(20, 150))
            line = {
                "timestamp": start + i * 86400 * 7 // lines + rng.randrange(60),
                "request": {"model": "gpt-4o-mini", "messages": messages, "metadata": {"category": category}},
                "response": {
                    "id": f"chatcmpl-{i}",
                    "object": "chat.completion",
                    "model": "gpt-4o-mini-2024-07-18",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "length" if rng.random() < 0.02 else "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": sum(len(m["content"]) for m in messages) // 4, "completion_tokens": len(answer) // 4},
                },
            }
            f.write(json.dumps(line) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tracemalloc", action="store_true", help="also report Python's peak allocation (slower)")
    ap.add_argument("--keep", type=Path, help="generate the log here and keep it (reused when present)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_import.") as tmp:
        log = args.keep or Path(tmp) / "traffic.jsonl"
        if not log.exists():
            t = time.perf_counter()
            generate(log, args.lines, args.seed)
            print(f"generated {args.lines:,} lines, {log.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - t:.0f} s")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.tracemalloc:
            tracemalloc.start()
        t, cpu = time.perf_counter(), time.process_time()
        report = import_traffic([log], "bench", Path(tmp), ImportOptions(sample=args.sample))
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        traced = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    lines = report.records + report.skipped_total
    print(f"imported {lines:,} lines in {elapsed:.1f} s: {lines / elapsed:,.0f} lines/s")
    print(f"CPU time {cpu:.1f} s: {lines / cpu:,.0f} lines per CPU-second (the figure to compare on a shared machine)")
    print(f"peak RSS {rss:,.0f} MiB (before import {rss_before:,.0f} MiB)")
    if traced is not None:
        print(f"tracemalloc peak {traced:,.0f} MiB")
    print(
        f"dedupe: {report.dedupe.exact:,} exact, {report.dedupe.near:,} near, {report.dedupe.kept:,} kept; "
        f"selected {report.sampling.selected}; redacted {report.redaction.found}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
