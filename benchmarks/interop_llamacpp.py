"""Interop check against a real third-party OpenAI-compatible server: llama-cpp-python's server
serving a tiny GGUF model that this script writes with the `gguf` package (random weights: the
answers are gibberish; what is checked is the protocol: streaming, usage, finish reasons,
keep-alive handling, statuses, resume, measure).

Needs, beside workload-evals, `pip install 'llama-cpp-python[server]' gguf` (llama-cpp-python
builds llama.cpp from source: minutes). Run:

    python benchmarks/interop_llamacpp.py [--samples 60] [--keep DIR] [--server-python PATH]

`--server-python` names another environment's Python that has llama-cpp-python and gguf
(the model is written and served there; workload-evals runs here).

It prints one JSON object: the server's version, requests sent vs samples, statuses, the second
run's re-sent count (resume), and the measured frontier's steps.
"""

from __future__ import annotations

import argparse
import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import yaml


def byte_tokens() -> list[str]:
    """GPT-2's byte-to-unicode table: every byte is one printable token."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def write_tiny_gguf(path: Path, *, n_embd: int = 64, n_layer: int = 2, n_head: int = 4, n_ff: int = 128, seed: int = 0) -> None:
    import gguf

    rng = np.random.default_rng(seed)
    tokens = byte_tokens() + ["Ġt", "he", "<|bos|>", "<|eos|>"]
    types = [gguf.TokenType.NORMAL] * (len(tokens) - 2) + [gguf.TokenType.CONTROL] * 2
    n_vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("workload-evals tiny interop model (random weights)")
    w.add_context_length(4096)  # byte-level tokens: the longest support prompts are over 1,000
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_file_type(0)  # all F32
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(["Ġ t", "h e"])
    w.add_bos_token_id(n_vocab - 2)
    w.add_eos_token_id(n_vocab - 1)
    w.add_add_bos_token(False)
    w.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:")

    def t(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    w.add_tensor("token_embd.weight", t(n_vocab, n_embd))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    out = t(n_vocab, n_embd)
    out[n_vocab - 1] *= 3  # the end token is likelier than the rest, so some answers stop before max_tokens
    w.add_tensor("output.weight", out)
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(f"blk.{i}.{name}.weight", t(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", t(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_up.weight", t(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_down.weight", t(n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, timeout_s: float = 120) -> dict:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server did not answer {url} within {timeout_s} s")


def evals(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evals.cli", *args], capture_output=True, text=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=60)
    ap.add_argument("--keep", type=Path, help="Keep the workspace and model here.")
    ap.add_argument("--server-python", default=sys.executable, help="The Python that has llama-cpp-python[server] and gguf (default: this one).")
    ap.add_argument("--client", choices=("sdk", "lean"), default="sdk", help="The runner's client for `evals run` (evals measure takes the same).")
    a = ap.parse_args()
    root = a.keep or Path(tempfile.mkdtemp(prefix="interop-"))
    root.mkdir(parents=True, exist_ok=True)
    model = root / "tiny.gguf"
    subprocess.run([a.server_python, __file__, "--write-model", str(model)], check=True)
    port = free_port()
    log = open(root / "server.log", "w")
    server = subprocess.Popen([a.server_python, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "tiny", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"], stdout=log, stderr=subprocess.STDOUT)
    try:
        models = wait_up(f"http://127.0.0.1:{port}/v1/models")
        ws = root / "ws"
        evals("init", str(ws), "--force")
        suite_dir = ws / "tasks" / "support"
        lines = (suite_dir / "samples.jsonl").read_text().splitlines()[: a.samples]
        (suite_dir / "samples.jsonl").write_text("\n".join(lines) + "\n")
        runner = {
            "name": "llamacpp-tiny", "provider": "openai_compatible", "model": "tiny", "base_url": f"http://127.0.0.1:{port}/v1",
            "params": {"max_tokens": 24, "temperature": 0.0}, "concurrency": 4, "client": a.client,
            "retry": {"max_attempts": 3, "base_delay_s": 0.2, "max_delay_s": 2},
            "pricing": {"self_hosted": {"gpu": "L4", "gpus": 1, "cloud_price_per_gpu_hour": 0.8}},
        }
        (ws / "runners" / "llamacpp-tiny.yaml").write_text(yaml.safe_dump(runner, sort_keys=False))
        t0 = time.perf_counter()
        first = evals("run", "-w", str(ws), "--suite", "support", "--runner", "llamacpp-tiny", "--no-report", "-q")
        t1 = time.perf_counter()
        second = evals("run", "-w", str(ws), "--suite", "support", "--runner", "llamacpp-tiny", "--no-report", "-q")
        db = sqlite3.connect(ws / "reports" / "evals.sqlite")
        runs = [r[0] for r in db.execute("SELECT id FROM runs ORDER BY created_at, rowid")]
        sent = [dict(db.execute("SELECT runner, requests_sent FROM run_runners WHERE run_id=?", (r,))) for r in runs]
        def statuses(run: str) -> dict[str, int]:
            return dict(db.execute("SELECT status || '/' || COALESCE(finish_reason, error_kind, '-'), COUNT(*) FROM attempts WHERE run_id=? AND final=1 AND purpose='run' GROUP BY 1", (run,)))

        usage = db.execute("SELECT SUM(input_tokens IS NULL), SUM(output_tokens IS NULL), COUNT(*) FROM attempts WHERE run_id=?", (runs[0],)).fetchone()
        measure = evals("measure", "-w", str(ws), "--runner", "llamacpp-tiny", "--suite", "support", "--concurrency", "1,4", "--requests", "24", "--client", a.client, "--json", "-q")
        frontier = json.loads(measure.stdout) if measure.returncode == 0 else {"error": measure.stderr[-2000:]}
        print(json.dumps({
            "client": a.client, "server": "llama-cpp-python " + subprocess.run([a.server_python, "-c", "import llama_cpp; print(llama_cpp.__version__)"], capture_output=True, text=True).stdout.strip(), "models": [m["id"] for m in models.get("data", [])],
            "samples": len(lines), "first_run": {"exit": first.returncode, "stderr": first.stderr[-500:], "wall_s": round(t1 - t0, 1), "sent": sent[0] if sent else None, "final_statuses": statuses(runs[0]),
            "attempts_without_usage": {"input": usage[0], "output": usage[1], "of": usage[2]}},
            "second_run": {"exit": second.returncode, "sent": sent[1] if len(sent) > 1 else None, "final_statuses": statuses(runs[1]) if len(runs) > 1 else None},
            "measure": {"exit": measure.returncode, "steps": [{k: s.get(k) for k in ("level", "mode", "sent", "ok", "errors", "throughput_rps", "ttft_ms", "tpot_ms", "itl_ms")} for s in frontier.get("steps", [])] if isinstance(frontier, dict) else frontier, "error": frontier.get("error") if isinstance(frontier, dict) else None},
            "workspace": str(root),
        }, indent=2, default=str))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write-model"]:
        write_tiny_gguf(Path(sys.argv[2]))
    else:
        main()
