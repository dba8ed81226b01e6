"""Managed launch: a runner profile with a `launch:` block makes `evals run`
start the server itself (`vllm serve ...` by default), wait until it is
healthy, hand its URL to the run, and stop it afterwards.

Stopping must leave nothing behind, whatever ends the run (success, an
exception, Ctrl-C, a health timeout): a forgotten vLLM process keeps its GPUs
and the next launch then fails for want of memory. So the server runs in a
process group of its own, and stopping signals the whole group (vLLM's
workers included): SIGTERM, a grace period, then SIGKILL. On Linux the server
also gets SIGTERM from the kernel should this process die without cleaning up.

Several runner profiles with an identical launch block (e.g. the same model
at two temperatures) share one server: `launch_all` starts each distinct
block once.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evals.errors import InfrastructureError
from evals.secrets import scrub

VLLM_ARGS = "{vllm_args}"
"""A `command` argument that expands to the vLLM arguments of the launch block."""

_VLLM_ONLY = (
    "served_model_name", "tensor_parallel_size", "pipeline_parallel_size", "quantization", "max_model_len", "gpu_memory_utilization", "enable_lora", "lora_modules",
    "enable_auto_tool_choice", "tool_call_parser", "chat_template",
)

_POLL_S = 0.25
_LOG_TAIL_LINES = 30


class LaunchError(InfrastructureError, RuntimeError):
    """The server did not come up; the message names its log file and ends with the log's last lines."""


_SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD")
_SECRET_FLAGS = {"--api-key", "--hf-token"}


class LaunchSpec(BaseModel):
    """How to start the server of a runner. The defaults start vLLM's OpenAI-compatible server."""

    model_config = ConfigDict(extra="forbid")

    model: str
    """Weights to serve: a Hugging Face id or a local path (`vllm serve MODEL`)."""
    served_model_name: str | None = None
    """The name requests use (`--served-model-name`); vLLM's default is `model` itself."""
    tensor_parallel_size: int = Field(default=1, ge=1)
    pipeline_parallel_size: int = Field(default=1, ge=1)
    quantization: str | None = None
    """e.g. fp8, awq, gptq (`--quantization`); None lets vLLM read it from the checkpoint."""
    max_model_len: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    enable_lora: bool = False
    lora_modules: dict[str, str] = Field(default_factory=dict)
    """Adapter name -> path; a runner then names the adapter as its `model`."""
    enable_auto_tool_choice: bool = False
    """`--enable-auto-tool-choice`: the model may decide to call tools (tool_choice auto). Without it
    vLLM refuses requests with tool_choice auto; agent traffic needs it, with a `tool_call_parser`."""
    tool_call_parser: str | None = None
    """`--tool-call-parser`: how vLLM reads the model's tool-call markup back into tool_calls
    (llama3_json for Llama 3.1-3.3, hermes for Qwen 2.5, mistral for Mistral; see
    https://docs.vllm.ai/en/latest/features/tool_calling/, read 2026-12-03). The wrong one
    returns the markup as text, which the tool_call scorer reports."""
    chat_template: str | None = None
    """`--chat-template`: a Jinja template file that renders tools into the prompt, when the
    checkpoint's own template does not (vLLM ships them in its repository's examples/)."""
    extra_args: list[str] = Field(default_factory=list)
    """Appended verbatim to the command line, e.g. ["--max-lora-rank", "64"]."""
    env: dict[str, str] = Field(default_factory=dict)
    """Added to this process's environment for the server (e.g. CUDA_VISIBLE_DEVICES).
    No secrets: profiles are stored with every run, and the server inherits this
    process's environment anyway, so export HF_TOKEN and the like instead."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """None: a free port is picked at launch."""
    host: str = "127.0.0.1"
    health_path: str = "/health"
    """GET here must answer 200 once the server is ready (Ollama: /api/tags)."""
    health_timeout_s: float = Field(default=900.0, gt=0)
    """Loading a 70B model from a cold disk cache takes minutes."""
    stop_timeout_s: float = Field(default=30.0, ge=0)
    """Grace between SIGTERM and SIGKILL; vLLM needs a few seconds to free its GPUs."""
    command: list[str] | None = None
    """The whole command line instead of `vllm serve MODEL --host ... --port ...`,
    with placeholders {port}, {host}, {model}, {served_model_name}; `extra_args`
    is appended. For other servers (SGLang, llama.cpp) and for the simulator in
    tests. An argument "{vllm_args}" expands to this block's vLLM arguments, to
    run vLLM another way: [/opt/vllm/bin/vllm, serve, "{vllm_args}"]."""

    @model_validator(mode="after")
    def _no_secrets(self) -> LaunchSpec:
        """Profiles are stored with every run: a secret here would be written to the store.
        The server inherits this process's environment, so export tokens instead."""
        for name in self.env:
            if any(w in name.upper() for w in _SECRET_WORDS):
                raise ValueError(f"env {name!r} looks like a secret: export it in the shell instead (the server inherits the environment; profiles are stored with every run)")
        for arg in [*self.extra_args, *(self.command or [])]:
            flag = arg.split("=", 1)[0].lower()
            if flag in _SECRET_FLAGS or scrub(arg) != arg:
                raise ValueError(f"argument {arg.split('=', 1)[0]!r} carries a secret: export VLLM_API_KEY / HF_TOKEN in the shell instead (profiles are stored with every run)")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> LaunchSpec:
        if self.lora_modules and not self.enable_lora:
            raise ValueError("lora_modules needs enable_lora: true")
        if self.enable_auto_tool_choice and not self.tool_call_parser:
            raise ValueError("enable_auto_tool_choice needs tool_call_parser (llama3_json for Llama 3.x, hermes for Qwen 2.5, mistral for Mistral), as vLLM itself requires")
        if self.command is not None and not self.command:
            raise ValueError("command must name an executable; leave it out for `vllm serve`")
        if not self.runs_vllm:
            fields = type(self).model_fields
            given = sorted(f for f in _VLLM_ONLY if getattr(self, f) != fields[f].get_default(call_default_factory=True))
            if given:
                raise ValueError(f"{', '.join(given)} only apply to vLLM: put them on your `command` line, or add \"{VLLM_ARGS}\" to it")
        if not self.health_path.startswith("/"):
            raise ValueError(f"health_path must start with '/', got {self.health_path!r}")
        return self

    @property
    def runs_vllm(self) -> bool:
        """True when the server is vLLM started with this block's arguments."""
        return self.command is None or VLLM_ARGS in self.command

    def names_served(self) -> set[str]:
        """Model names a vLLM server started from this block answers to."""
        return {self.served_model_name or self.model, *self.lora_modules}

    def content_hash(self) -> str:
        """Identical blocks share one server."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    def argv(self, port: int) -> list[str]:
        """The server's command line for `port`."""
        fill = _filler(self, port)
        command = self.command or ["vllm", "serve", VLLM_ARGS]
        out: list[str] = []
        for arg in command:
            out.extend(self._vllm_args(port) if arg == VLLM_ARGS else [fill(arg)])
        return out + list(self.extra_args)

    def _vllm_args(self, port: int) -> list[str]:
        args = [self.model, "--host", self.host, "--port", str(port)]
        args += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        args += ["--pipeline-parallel-size", str(self.pipeline_parallel_size)]
        args += ["--gpu-memory-utilization", f"{self.gpu_memory_utilization:g}"]
        if self.served_model_name:
            args += ["--served-model-name", self.served_model_name]
        if self.quantization:
            args += ["--quantization", self.quantization]
        if self.max_model_len:
            args += ["--max-model-len", str(self.max_model_len)]
        if self.enable_lora:
            args.append("--enable-lora")
        if self.lora_modules:
            args += ["--lora-modules", *(f"{name}={path}" for name, path in self.lora_modules.items())]
        if self.enable_auto_tool_choice:
            args.append("--enable-auto-tool-choice")
        if self.tool_call_parser:
            args += ["--tool-call-parser", self.tool_call_parser]
        if self.chat_template:
            args += ["--chat-template", self.chat_template]
        return args

    def environment(self, port: int) -> dict[str, str]:
        fill = _filler(self, port)
        return {**os.environ, **{k: fill(v) for k, v in self.env.items()}}


def _filler(spec: LaunchSpec, port: int) -> Callable[[str], str]:
    values = {"{port}": str(port), "{host}": spec.host, "{model}": spec.model, "{served_model_name}": spec.served_model_name or spec.model}

    def fill(text: str) -> str:
        for k, v in values.items():
            text = text.replace(k, v)
        return text

    return fill


def free_port(host: str) -> int:
    """A port nothing listens on right now (another process could still take it before the server binds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _url_host(host: str) -> str:
    """Where a client connects: a server bound to every interface is reached on loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(log unreadable)"
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) or "    (log is empty)"


def _parent_death_hook() -> Callable[[], None] | None:
    """On Linux, a child setup function asking the kernel to SIGTERM the server
    if this process dies without stopping it (e.g. SIGKILL). libc is loaded
    here, before forking, so the child only makes one system call."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    return hook


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the process group led by `proc`, wait up to `grace_s`, then SIGKILL
    what is left. Reaps `proc`, so no zombie stays behind either."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader: an unreaped zombie would keep the group "alive"
        if not _group_alive(pgid):
            break
        time.sleep(0.05)
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    proc.wait()


class ManagedServer:
    """One launched server, as a context manager that yields its OpenAI base URL
    (`http://host:port/v1`) once GET `health_path` answers 200, and always stops
    the whole process group on exit."""

    def __init__(self, spec: LaunchSpec, name: str, log_dir: Path) -> None:
        self.spec = spec
        self.name = name
        self.log_dir = Path(log_dir)
        self.port: int | None = None
        self.log_path: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def root_url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://{_url_host(self.spec.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def __enter__(self) -> str:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        spec = self.spec
        self.port = spec.port or free_port(spec.host)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.log_path = self.log_dir / f"{self.name}-{stamp}-{self.port}.log"
        argv = spec.argv(self.port)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {scrub(' '.join(argv), limit=100_000)}\n".encode())
            log.flush()
            try:
                self.process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=spec.environment(self.port),
                    start_new_session=True,  # its own process group: stop() signals all of it
                    preexec_fn=_parent_death_hook(),
                )
            except OSError as e:
                raise LaunchError(f"runner {self.name!r}: cannot start {argv[0]!r}: {e.strerror or e}. Is it installed and on PATH?") from None

    def wait_healthy(self) -> None:
        """Poll GET health_path until 200; a server that exits or stays unhealthy is a LaunchError."""
        assert self.process is not None and self.log_path is not None
        url = f"{self.root_url}{self.spec.health_path}"
        deadline = time.monotonic() + self.spec.health_timeout_s
        while True:
            code = self.process.poll()
            if code is not None:
                raise LaunchError(
                    f"runner {self.name!r}: the server exited with code {code} before {url} answered; "
                    f"log {self.log_path}, last lines:\n{_tail(self.log_path)}"
                )
            if _healthy(url):
                return
            if time.monotonic() >= deadline:
                raise LaunchError(
                    f"runner {self.name!r}: {url} did not answer 200 within health_timeout_s="
                    f"{self.spec.health_timeout_s:g}; log {self.log_path}, last lines:\n{_tail(self.log_path)}"
                )
            time.sleep(_POLL_S)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            stop_group(self.process, self.spec.stop_timeout_s)
        except KeyboardInterrupt:  # Ctrl-C again while waiting for a clean stop: kill at once
            stop_group(self.process, 0)
            raise


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""The launched server is local: an HTTP(S)_PROXY in the environment must not carry the health check away."""


def _healthy(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=2.0) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):  # not up yet, or half up
        return False


class _Launchable(Protocol):
    name: str
    launch: LaunchSpec | None


@contextlib.contextmanager
def launch_all(profiles: Sequence[_Launchable], log_dir: Path) -> Iterator[dict[str, str]]:
    """Start one server per distinct launch block of `profiles` (runner profiles),
    yield {runner name: base URL}, stop them all on exit. A server that fails to
    come up stops the ones already started."""
    groups: dict[str, list[_Launchable]] = {}
    for p in profiles:
        if p.launch is not None:
            groups.setdefault(p.launch.content_hash(), []).append(p)
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for members in groups.values():
            spec = members[0].launch
            assert spec is not None
            url = stack.enter_context(ManagedServer(spec, "+".join(m.name for m in members), log_dir))
            urls.update({m.name: url for m in members})
        yield urls
