"""Managed launch: the server a runner's `launch:` block starts comes up, is
waited for, and leaves no process behind however the block ends.

Cleanup is checked with a cheap stand-in server (`python -m http.server`
behind a shell that also leaves a `sleep` in the process group, as vLLM leaves
its workers); the real path is checked with `evals sim` as the launch command.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import openai
import pytest

from evals.config import ConfigError, RunnerProfile, find_suite, load_runner
from evals.providers.launch import LaunchError, LaunchSpec, ManagedServer, launch_all
from evals.run.keys import request_identity
from evals.run.orchestrate import execute_run
from evals.store.db import Store
from tests.conftest import write_workspace

SELF_HOSTED = {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2.0}}


def _gone(pid: int, within_s: float = 3.0) -> bool:
    """True once `pid` no longer runs (absent, or a zombie nobody reaped yet)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _pids_with(marker: str) -> list[int]:
    """Processes whose command line contains `marker` (a name unique to one test)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmd and int(d.name) != os.getpid() and not _gone(int(d.name), 0):
                found.append(int(d.name))
    return found


def _group_server(marker: str, **spec: Any) -> LaunchSpec:
    """A stand-in server whose process group also holds a sleeping child tagged with `marker`."""
    script = f'"{sys.executable}" -c "import time; time.sleep(300)" {marker} & exec "{sys.executable}" -m http.server {{port}} --bind {{host}}'
    return LaunchSpec(model="stand-in", command=["sh", "-c", script], health_path="/", health_timeout_s=30, stop_timeout_s=5, **spec)


def _sim_command(tmp_path: Path, marker: str) -> list[str]:
    return [sys.executable, "-m", "evals.cli", "sim", "--workspace", str(tmp_path), "--port", "{port}", "--host", "{host}", "--model", "{model}", "--model", marker]


def test_vllm_command_line_from_the_launch_block() -> None:
    spec = LaunchSpec(model="org/m", served_model_name="m", tensor_parallel_size=4, quantization="fp8", max_model_len=8192, enable_lora=True, lora_modules={"a": "/l/a"}, extra_args=["--seed", "1"])
    argv = spec.argv(8123)
    assert argv[:3] == ["vllm", "serve", "org/m"]
    joined = " ".join(argv)
    for part in ("--port 8123", "--host 127.0.0.1", "--tensor-parallel-size 4", "--quantization fp8", "--max-model-len 8192", "--served-model-name m", "--enable-lora", "--lora-modules a=/l/a", "--seed 1"):
        assert part in joined
    # a command is the whole command line; "{vllm_args}" brings the block's vLLM arguments into it
    assert LaunchSpec(model="m", command=["srv", "--port", "{port}", "-m", "{model}"], extra_args=["-v"]).argv(7) == ["srv", "--port", "7", "-m", "m", "-v"]
    custom = LaunchSpec(model="m", tensor_parallel_size=2, command=["/opt/vllm/bin/vllm", "serve", "{vllm_args}"]).argv(1)
    assert custom[:3] == ["/opt/vllm/bin/vllm", "serve", "m"] and "--tensor-parallel-size" in custom
    with pytest.raises(ValueError, match="tensor_parallel_size only apply to vLLM"):
        LaunchSpec(model="m", tensor_parallel_size=2, command=["llama-server", "--port", "{port}"])


def test_profile_rules_for_launch_blocks() -> None:
    base = {"name": "r", "provider": "openai_compatible", "model": "org/m", "pricing": SELF_HOSTED, "launch": {"model": "org/m"}}
    assert RunnerProfile.model_validate(base).launch is not None
    for bad, msg in (
        ({"base_url": "http://x/v1"}, "remove base_url"),
        ({"provider": "openai"}, "provider: openai_compatible"),
        ({"model": "other"}, "not served by the launched vLLM"),
        ({"launch": {"model": "org/m", "lora_modules": {"a": "/p"}}}, "enable_lora"),
    ):
        with pytest.raises(ValueError, match=msg):
            RunnerProfile.model_validate({**base, **bad})
    lora = {**base, "model": "a", "launch": {"model": "org/m", "enable_lora": True, "lora_modules": {"a": "/p"}}}
    assert RunnerProfile.model_validate(lora).model == "a"


def test_launched_sim_is_waited_for_answers_and_stops(tmp_path: Path) -> None:
    marker = f"m-{uuid.uuid4().hex[:8]}"
    server = ManagedServer(LaunchSpec(model="x", command=_sim_command(tmp_path, marker), health_timeout_s=60), "x", tmp_path / "logs")
    with server as url:
        assert url == f"http://127.0.0.1:{server.port}/v1"
        reply = openai.OpenAI(base_url=url, api_key="k").chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
        assert reply.choices[0].message.content
        assert server.process is not None
        pid = server.process.pid
    assert _gone(pid) and not _pids_with(marker)
    assert server.log_path is not None and server.log_path.parent == tmp_path / "logs"
    assert "SIMULATED endpoints on" in server.log_path.read_text()


@pytest.mark.parametrize("escape", [RuntimeError, KeyboardInterrupt])
def test_the_whole_process_group_stops_when_the_block_fails(tmp_path: Path, escape: type[BaseException]) -> None:
    marker = f"m{uuid.uuid4().hex[:8]}"
    server = ManagedServer(_group_server(marker), "stand-in", tmp_path)
    with pytest.raises(escape):
        with server:
            assert server.process is not None
            pid = server.process.pid
            assert _pids_with(marker), "the sleep in the server's process group should be running"
            raise escape("stop")
    assert _gone(pid) and not _pids_with(marker)


def test_a_server_that_never_gets_healthy_times_out_clearly(tmp_path: Path) -> None:
    spec = LaunchSpec(model="m", command=["sleep", "30"], health_timeout_s=2, stop_timeout_s=2)
    server = ManagedServer(spec, "sleepy", tmp_path)
    started = time.monotonic()
    with pytest.raises(LaunchError, match=r"did not answer 200 within health_timeout_s=2") as err:
        server.__enter__()
    assert time.monotonic() - started < 15
    assert str(server.log_path) in str(err.value) and "$ sleep 30" in str(err.value)  # the log's last lines
    assert server.process is not None and _gone(server.process.pid)


def test_a_server_that_exits_early_says_why(tmp_path: Path) -> None:
    spec = LaunchSpec(model="m", command=[sys.executable, "-c", "import sys; print('CUDA out of memory (pretend)'); sys.exit(3)"], health_timeout_s=30)
    with pytest.raises(LaunchError, match=r"exited with code 3") as err:
        with ManagedServer(spec, "oom", tmp_path):
            pass
    assert "CUDA out of memory (pretend)" in str(err.value)


def test_a_missing_executable_is_a_launch_error(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="Is it installed"):
        with ManagedServer(LaunchSpec(model="m", command=["no-such-server-binary", "{port}"]), "x", tmp_path):
            pass


def test_identical_launch_blocks_share_one_server(tmp_path: Path) -> None:
    marker = f"m{uuid.uuid4().hex[:8]}"
    spec = _group_server(marker)
    a = RunnerProfile.model_validate({"name": "a", "provider": "openai_compatible", "model": "stand-in", "pricing": SELF_HOSTED, "launch": spec.model_dump()})
    b = a.model_copy(update={"name": "b"})
    other = a.model_copy(update={"name": "c", "launch": spec.model_copy(update={"stop_timeout_s": 4})})
    with launch_all([a, b, other], tmp_path) as urls:
        assert urls["a"] == urls["b"] != urls["c"]
        assert len(_pids_with(marker)) == 2  # one tagged sleep per server
    assert not _pids_with(marker)
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.log")) == ["a+b", "c"]


def test_a_run_launches_its_server_shares_it_and_stops_it(tmp_path: Path) -> None:
    """Two runners with one launch block: one `evals sim` serves both, the run's
    answers and server facts are stored, and nothing is left running."""
    marker = f"m-{uuid.uuid4().hex[:8]}"
    launch = {"model": "x", "command": _sim_command(tmp_path / "empty", marker), "health_timeout_s": 60}
    runner = {"provider": "openai_compatible", "model": "x", "concurrency": 16, "pricing": SELF_HOSTED, "launch": launch}
    ws = write_workspace(tmp_path, {"a": runner, "b": {**runner, "params": {"max_tokens": 64}}}, n_samples=10)
    (tmp_path / "empty").mkdir()
    store = Store(ws / "reports" / "evals.sqlite")
    profiles = [load_runner(ws / "runners" / f"{n}.yaml") for n in ("a", "b")]
    assert profiles[0].launch == profiles[1].launch
    summary = execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=profiles, store=store, quiet=True)
    rows = store.query("SELECT runner, status, base_url FROM attempts WHERE run_id=?", (summary.run_id,))
    assert len(rows) == 20 and {r["status"] for r in rows} == {"ok"}
    assert len({r["base_url"] for r in rows}) == 1  # one server answered both runners
    facts = {(f["runner"], f["kind"]): f["data"] for f in store.server_facts(summary.run_id)}
    assert facts[("a", "server")]["version"].startswith("sim-") and facts[("a", "server")]["shared_with"] == ["a", "b"]
    assert facts[("b", "metrics")]["deltas"]["requests_finished"] == 20
    assert not _pids_with(marker)
    assert list((ws / "reports" / "logs").glob("a+b-*.log"))
    # the stored profiles are the ones written: no ephemeral URL, so they load again
    for r in store.query("SELECT profile_json FROM run_runners WHERE run_id=?", (summary.run_id,)):
        assert RunnerProfile.model_validate_json(r["profile_json"]).base_url is None
    store.close()


def test_launched_answers_are_keyed_by_launch_block_not_port() -> None:
    """The port changes every start; resume must still find the answers."""
    p = RunnerProfile.model_validate({"name": "a", "provider": "openai_compatible", "model": "m", "pricing": SELF_HOSTED, "launch": {"model": "m", "port": 8001}})
    moved = p.model_copy(update={"launch": p.launch.model_copy(update={"port": 9002}), "base_url": "http://127.0.0.1:9002/v1"})
    assert request_identity(p) == request_identity(moved)
    quantised = p.model_copy(update={"launch": p.launch.model_copy(update={"quantization": "fp8"})})
    assert request_identity(quantised) != request_identity(p)


def test_a_launch_that_fails_creates_no_run(tmp_path: Path) -> None:
    runner = {"provider": "openai_compatible", "model": "m", "pricing": SELF_HOSTED, "launch": {"model": "m", "command": [sys.executable, "-c", "raise SystemExit(1)"]}}
    ws = write_workspace(tmp_path, {"a": runner}, n_samples=2)
    store = Store(ws / "reports" / "evals.sqlite")
    with pytest.raises(LaunchError):
        execute_run(workspace=ws, suite=find_suite(ws, "mini"), runners=[load_runner(ws / "runners" / "a.yaml")], store=store, quiet=True)
    assert store.latest_run_id() is None
    store.close()


def test_a_launch_block_in_yaml_is_checked_with_its_line(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("name: r\nprovider: openai_compatible\nmodel: m\nlaunch:\n  model: m\n  tensor_paralel_size: 2\npricing:\n  self_hosted: {gpu: A100-80GB, gpus: 1, cloud_price_per_gpu_hour: 2}\n")
    with pytest.raises(ConfigError, match=r"r.yaml:6: `launch.tensor_paralel_size`: unknown field"):
        load_runner(p)


def test_launch_env_refuses_secrets() -> None:
    import pytest as _pytest
    from pydantic import ValidationError

    from evals.providers.launch import LaunchSpec

    with _pytest.raises(ValidationError, match="looks like a secret"):
        LaunchSpec(model="m", env={"HF_TOKEN": "hf_abc"})
    assert LaunchSpec(model="m", env={"CUDA_VISIBLE_DEVICES": "0,1"}).env == {"CUDA_VISIBLE_DEVICES": "0,1"}
    for args in (["--api-key", "tok-123"], ["--api-key=tok-123"], ["--hf-token", "x"]):
        with _pytest.raises(ValidationError, match="carries a secret"):
            LaunchSpec(model="m", extra_args=args)
    assert LaunchSpec(model="m", extra_args=["--max-lora-rank", "64"]).extra_args == ["--max-lora-rank", "64"]
