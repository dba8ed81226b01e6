"""Run untrusted Python in a sandbox: a pure runner, no grading.

`run_python(code)` runs a script in a separate process and returns what it
printed, how it ended and under which isolation. A fork bomb, an endless loop,
a memory bomb, a huge file, a network call or a process left behind ends within
the limits and leaves nothing running.

What holds, by isolation mode (`isolation_available()` says which one applies):

- Always: the base interpreter (not the venv, so no third-party packages) as
  `python -I -S -B`; an environment of only PATH, HOME, TMPDIR and LANG;
  RLIMIT_CPU, RLIMIT_AS (memory), RLIMIT_FSIZE (per file), RLIMIT_CORE 0; a
  wall-clock limit after which the whole process tree is killed; stdout and
  stderr read concurrently and capped (head and tail kept), so a process that
  spews output cannot exhaust our memory.
- "bubblewrap" (`bwrap` on PATH and working; probed once per process): new
  pid, network, IPC, UTS and mount namespaces. The filesystem is /usr (and
  the /bin, /lib* links), the interpreter's prefix, all read-only, an /etc
  holding only ld.so.cache (with `network=True` also resolv.conf, hosts and
  ssl), a fresh /proc and /dev, and a private /tmp tmpfs capped at
  4 x max_file_mb (tmpfs pages are RAM that RLIMIT_AS does not count), which
  is the working directory; the script is bound read-only into it. No
  network: only a loopback device that is down. Every descendant dies with
  the pid namespace, whatever it does (setsid, double fork), and nothing
  outside the namespace can be seen or signalled.
  RLIMIT_NPROC counts per (user namespace, real uid) and is not enforced for
  uid 0, so the limit is set inside a user namespace of the sandbox's own,
  where it counts exactly this run's tasks (threads included):
  * run by a normal user, bwrap makes that namespace (unprivileged), and
    nested user namespaces are disabled;
  * run as root, bwrap runs privileged without a user namespace (bwrap as
    uid nobody could not bind an interpreter only root can reach, e.g. a
    pyenv under /root; a root-made user namespace would map to uid 0, which
    the limit exempts), keeps only CAP_SETUID/CAP_SETGID, and the boot stage
    inside drops to uid/gid 65534 (nobody) with no groups and no
    capabilities, then makes the user namespace itself.
- "rlimits-only" (no working bubblewrap): network isolation is NOT
  guaranteed, and the filesystem is the host's, seen with the run's uid; the
  working directory is a fresh host temporary directory, and only each
  file's size is capped, not their number. A supervisor process (a child
  subreaper) freezes and kills every descendant, including ones that called
  setsid, when the code ends or times out. The code runs as the caller's uid
  or, as root, as uid 65534 when that uid can run the interpreter; its
  RLIMIT_NPROC is that uid's current task count + max_procs, shared with the
  uid's other processes, so approximate. Code running as the caller's uid can
  read the caller's environment through /proc. As root with an interpreter
  only root can reach, the code runs as root: no process limit holds
  (`SandboxResult.process_limit_enforced` is False), and code that kills the
  supervisor can leave processes behind. Do not run untrusted code that way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Literal

Isolation = Literal["bubblewrap", "rlimits-only"]

OUTPUT_CAP_BYTES = 64 * 1024
"""Per stream. The first and the last half are kept: errors come at the end."""

NOBODY = 65534
"""The uid/gid root runs untrusted code as: the kernel's overflow id, `nobody` on most systems."""

_GRACE_S = 2.0
"""How long to wait for the process tree to go after it was told to stop."""

_SCRATCH_FILES = 4
"""The bubblewrap /tmp holds this many max-size files."""

_PY_FLAGS = ["-I", "-S", "-B", "-X", "utf8"]
"""Isolated mode (no PYTHON* variables, no user site, no script dir on
sys.path), no site (no third-party packages), no bytecode files, UTF-8 I/O."""


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int
    """As the launcher reports it: a signal N shows as 128 + N (the shell's convention)."""
    stdout: str
    stderr: str
    timed_out: bool
    killed_reason: str | None
    """"wall-clock timeout", "CPU time limit", "signal SIGKILL", ... or None for a normal exit."""
    wall_s: float
    isolation: Isolation
    process_limit_enforced: bool
    """Whether max_procs held (see the module docstring for when it cannot)."""


# The first Python the sandbox runs: it confines itself (uid, user namespace,
# rlimits) and execs the code's interpreter; in rlimits-only mode it first
# forks, and the parent stays as the supervisor that reaps the whole tree.
# Stdlib only, run with the flags above.
_BOOT = r"""
import ctypes, json, os, resource, signal, sys, traceback

cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
CLONE_NEWUSER = 0x10000000


def check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def own_user_namespace(uid):
    # After setuid the process is not dumpable and cannot write its own id maps.
    check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
    check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{uid} {uid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def confine_and_exec():
    uid = cfg["uid"]
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if cfg["own_userns"]:
        own_user_namespace(uid)
    for name, (soft, hard) in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    os.execv(cfg["argv"][0], cfg["argv"])


class Stop(Exception):
    pass


def stop(signum, frame):
    raise Stop


def descendants():
    # pid -> state of every process below this one, from one scan of /proc.
    kids, states = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            states[int(entry)] = fields[0]
            kids.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = {}, [os.getpid()]
    while todo:
        for pid in kids.get(todo.pop(), ()):
            found[pid] = states[pid]
            todo.append(pid)
    return found


def signal_all(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def kill_tree():
    # Freeze first: a fork bomb refills every slot a kill frees, but a stopped
    # process cannot fork. As a subreaper we inherit every orphan, so the scan
    # sees the whole tree, setsid or not.
    while running := [pid for pid, state in descendants().items() if state not in "TtZX"]:
        signal_all(running, signal.SIGSTOP)
    signal_all(descendants(), signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def supervise():
    signal.signal(signal.SIGTERM, stop)
    check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
    check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != cfg["parent"]:
        os._exit(137)
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            confine_and_exec()
        except BaseException:
            traceback.print_exc()
            os._exit(127)
    status = None
    try:
        _, status = os.waitpid(pid, 0)
    except Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    kill_tree()
    if status is None or os.WIFSIGNALED(status):
        os._exit(128 + (os.WTERMSIG(status) if status is not None else signal.SIGKILL))
    os._exit(os.WEXITSTATUS(status))


if cfg["supervise"]:
    supervise()
else:
    confine_and_exec()
"""


@dataclass(frozen=True)
class _Plan:
    """How this process runs untrusted code; decided once (see `_plan`)."""

    isolation: Isolation
    python: str
    uid: int | None
    """Drop to this uid before running the code (only when we are root)."""
    process_limit_enforced: bool
    bwrap: str | None = None


def isolation_available() -> Isolation:
    """The isolation `run_python` gives on this machine, for reports to state plainly.

    "rlimits-only" means no network isolation and the host's filesystem."""
    return _plan().isolation


def run_python(
    code: str,
    *,
    timeout_s: float = 10,
    memory_mb: int = 512,
    max_file_mb: int = 16,
    max_procs: int = 64,
    network: bool = False,
    stdin: bytes = b"",
) -> SandboxResult:
    """Run `code` as a script in the sandbox and report how it ended.

    `stdin` is written to the script's standard input, then closed. `network`
    only has an effect under bubblewrap (without it there is no isolation to
    lift). Blocking; call it through `asyncio.to_thread` from async code.
    """
    return _run(_plan(), code, timeout_s, memory_mb, max_file_mb, max_procs, network, stdin)


def run_python_pair(
    server_code: str,
    client_code: str,
    *,
    timeout_s: float = 10,
    memory_mb: int = 512,
    max_file_mb: int = 16,
    max_procs: int = 64,
) -> tuple[SandboxResult, SandboxResult]:
    """Run two scripts, each in a sandbox of its own, joined by one pipe pair only.

    What the client writes to the file descriptor whose number is its
    `sys.argv[1]` is the server's standard input; what the server writes to its
    standard output is the client's standard input. The client's standard
    output reaches only us, so a grader can trust what the client reports even
    when the server runs hostile code: under bubblewrap each script has its own
    pid, IPC, network and mount namespaces, so the server cannot see, signal,
    trace or open the client's descriptors. Without bubblewrap both run with the
    same uid; the client must make itself non-dumpable before anything else (so
    the server cannot trace it or open its /proc descriptors), and as a normal
    user the server can still reach our own process through /proc (see the
    module docstring: rlimits-only does not protect the caller from the code).

    The run ends when the client ends (the server is then stopped) or at
    `timeout_s`, which counts both. Returns (server result, client result); the
    server's stdout is the pipe, so its `stdout` is empty."""
    return _run_pair(_plan(), server_code, client_code, timeout_s, memory_mb, max_file_mb, max_procs)


# ---------------------------------------------------------------- the plan


@functools.cache
def _plan() -> _Plan:
    """Bubblewrap when a real run through it works here, else rlimits only."""
    bwrap = _bwrap_plan()
    return bwrap if bwrap is not None else _fallback_plan()


@functools.cache
def _bwrap_plan() -> _Plan | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    uid = NOBODY if os.geteuid() == 0 else None
    plan = _Plan("bubblewrap", _base_python(), uid, process_limit_enforced=True, bwrap=bwrap)
    try:
        probe = _run(plan, "print('ok')", 30, 256, 1, 8, False, b"")
    except OSError:
        return None
    return plan if probe.exit_code == 0 and probe.stdout == "ok\n" else None


@functools.cache
def _fallback_plan() -> _Plan:
    python = _base_python()
    if os.geteuid() != 0:
        return _Plan("rlimits-only", python, None, process_limit_enforced=True)
    try:
        probe = subprocess.run(
            [python, *_PY_FLAGS, "-c", "pass"],
            user=NOBODY,
            group=NOBODY,
            extra_groups=[],
            cwd="/",
            env=_environment("/"),
            capture_output=True,
            timeout=30,
        )
        uid = NOBODY if probe.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):  # nobody cannot reach the interpreter (a pyenv under /root)
        uid = None
    return _Plan("rlimits-only", python, uid, process_limit_enforced=uid is not None)


def _base_python() -> str:
    """The interpreter the venv was made from: the stdlib without our packages."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _environment(home: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}


# ---------------------------------------------------------------- one run


def _run(
    plan: _Plan,
    code: str,
    timeout_s: float,
    memory_mb: int,
    max_file_mb: int,
    max_procs: int,
    network: bool,
    stdin: bytes,
) -> SandboxResult:
    with tempfile.TemporaryDirectory(prefix="evals-sandbox-", ignore_cleanup_errors=True) as workdir:
        argv, cwd, env = _prepare(plan, code, workdir, [], timeout_s, memory_mb, max_file_mb, max_procs, network)
        (result,) = _execute(plan, [_Launch(argv, cwd, env, input=stdin)], timeout_s)
        return result


def _run_pair(
    plan: _Plan,
    server_code: str,
    client_code: str,
    timeout_s: float,
    memory_mb: int,
    max_file_mb: int,
    max_procs: int,
) -> tuple[SandboxResult, SandboxResult]:
    limits = (timeout_s, memory_mb, max_file_mb, max_procs, False)
    with contextlib.ExitStack() as stack:
        server_dir, client_dir = (
            stack.enter_context(tempfile.TemporaryDirectory(prefix="evals-sandbox-", ignore_cleanup_errors=True))
            for _ in range(2)
        )
        to_server_r, to_server_w = os.pipe()
        to_client_r, to_client_w = os.pipe()
        ours = [to_server_r, to_server_w, to_client_r, to_client_w]
        try:
            server = _Launch(*_prepare(plan, server_code, server_dir, [], *limits), stdin=to_server_r, stdout=to_client_w)
            client_argv = _prepare(plan, client_code, client_dir, [str(to_server_w)], *limits)
            client = _Launch(*client_argv, stdin=to_client_r, pass_fds=(to_server_w,))
            server_result, client_result = _execute(plan, [server, client], timeout_s, ours, primary=1)
        finally:
            for fd in ours:  # only those _execute did not close (it empties the list as it closes)
                os.close(fd)
        return server_result, client_result


def _prepare(
    plan: _Plan,
    code: str,
    workdir: str,
    args: list[str],
    timeout_s: float,
    memory_mb: int,
    max_file_mb: int,
    max_procs: int,
    network: bool,
) -> tuple[list[str], str, dict[str, str]]:
    """Write the script into `workdir` and return how to launch it: argv, cwd, env."""
    cpu_s = math.ceil(timeout_s) + 1
    rlimits = {
        "RLIMIT_CPU": [cpu_s, cpu_s + 1],
        "RLIMIT_AS": [memory_mb << 20] * 2,
        "RLIMIT_FSIZE": [max_file_mb << 20] * 2,
        "RLIMIT_CORE": [0, 0],
    }
    script = os.path.join(workdir, "main.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(code)
    os.chmod(script, 0o644)
    if plan.isolation == "bubblewrap":
        rlimits["RLIMIT_NPROC"] = [max_procs] * 2
        cfg: dict[str, object] = {"uid": plan.uid, "own_userns": plan.uid is not None, "supervise": False}
        cfg.update(rlimits=rlimits, argv=[plan.python, *_PY_FLAGS, "/tmp/main.py", *args])
        argv = _bwrap_argv(plan, script, max_file_mb * _SCRATCH_FILES, network)
        argv += [plan.python, *_PY_FLAGS, "-c", _BOOT, json.dumps(cfg)]
        return argv, "/", {}
    if plan.process_limit_enforced:
        uid = plan.uid if plan.uid is not None else os.getuid()
        rlimits["RLIMIT_NPROC"] = [_count_tasks(uid) + max_procs] * 2
    if plan.uid is not None:
        os.chown(workdir, plan.uid, plan.uid)
    cfg = {"uid": plan.uid, "own_userns": False, "supervise": True, "parent": os.getpid()}
    cfg.update(rlimits=rlimits, argv=[plan.python, *_PY_FLAGS, script, *args])
    return [plan.python, *_PY_FLAGS, "-c", _BOOT, json.dumps(cfg)], workdir, _environment(workdir)


def _bwrap_argv(plan: _Plan, script: str, scratch_mb: int, network: bool) -> list[str]:
    """Namespaces one by one, not --unshare-all: run as root, a user namespace
    made by bwrap would map the code to uid 0, which RLIMIT_NPROC exempts."""
    assert plan.bwrap
    argv = [plan.bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try"] + ([] if network else ["--unshare-net"])
    if plan.uid is None:
        argv += ["--unshare-user", "--disable-userns"]
    else:
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    argv += ["--perms", "0755", "--dir", "/etc", "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    if network:
        for name in ("/etc/resolv.conf", "/etc/hosts", "/etc/ssl"):
            argv += ["--ro-bind-try", name, name]
    for root in _interpreter_roots(plan.python):
        # bwrap copies the host's modes onto the parents it creates (/root is
        # 0700), which would lock uid nobody out of the interpreter.
        parents: list[str] = []
        parent = os.path.dirname(root)
        while parent != "/":
            parents.insert(0, parent)
            parent = os.path.dirname(parent)
        for p in parents:
            argv += ["--perms", "0755", "--dir", p]
        argv += ["--ro-bind", root, root]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(scratch_mb << 20), "--perms", "1777", "--tmpfs", "/tmp"]
    argv += ["--ro-bind", script, "/tmp/main.py", "--chdir", "/tmp", "--clearenv"]
    for key, value in _environment("/tmp").items():
        argv += ["--setenv", key, value]
    return argv


def _interpreter_roots(python: str) -> list[str]:
    """Directories outside /usr the interpreter needs: its prefix and its own directory."""
    roots: list[str] = []
    wanted = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix), os.path.dirname(python)}
    for path in sorted(wanted):
        if path != "/usr" and not path.startswith("/usr/") and not any(path.startswith(r + "/") for r in roots):
            roots.append(path)
    return roots


def _count_tasks(uid: int) -> int:
    """Processes and threads of `uid`: what RLIMIT_NPROC counts outside a user namespace."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


@dataclass
class _Launch:
    """One sandboxed process to start: its command, and where its standard streams go.

    `stdin`/`stdout` default to pipes we feed and read; an int is a descriptor
    the process gets instead (one end of a pipe to another sandbox)."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    input: bytes = b""
    stdin: int = subprocess.PIPE
    stdout: int = subprocess.PIPE
    pass_fds: tuple[int, ...] = ()


def _execute(
    plan: _Plan, launches: list[_Launch], timeout_s: float, close_after_start: list[int] | None = None, primary: int | None = None
) -> list[SandboxResult]:
    """Start every launch, drain their output until they end or the deadline,
    and leave nothing running. When `primary` ends, the others are stopped.

    `close_after_start`: our ends of the pipes the sandboxes share, closed once they are started and
    removed from the list as they are, so the caller closes only what is left. Closing one twice is
    not harmless: graders run in threads, and the number may already be another grader's new pipe."""
    started = time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for launch in launches:
            procs.append(
                subprocess.Popen(
                    launch.argv,
                    stdin=launch.stdin,
                    stdout=launch.stdout,
                    stderr=subprocess.PIPE,
                    cwd=launch.cwd,
                    env=launch.env,
                    start_new_session=True,
                    pass_fds=launch.pass_fds,
                )
            )
        while close_after_start:  # only the sandboxes hold the ends now, so EOF arrives when they end
            os.close(close_after_start.pop())
        sinks, timed_out = _communicate(procs, [launch.input for launch in launches], plan, started + timeout_s, primary)
    except BaseException:
        for proc in procs:
            _stop(proc, plan)
        raise
    finally:
        for proc in procs:
            _kill_group(proc.pid)  # stragglers in its group; the leader is not reaped yet, so the id is still ours
            proc.wait()
    results = []
    for proc, (out, err), late in zip(procs, sinks, timed_out):
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        results.append(
            SandboxResult(
                exit_code=code,
                stdout=out.text(),
                stderr=err.text(),
                timed_out=late,
                killed_reason="wall-clock timeout" if late else _signal_reason(code),
                wall_s=time.monotonic() - started,
                isolation=plan.isolation,
                process_limit_enforced=plan.process_limit_enforced,
            )
        )
    return results


def _communicate(
    procs: list[subprocess.Popen[bytes]], inputs: list[bytes], plan: _Plan, deadline: float, primary: int | None
) -> tuple[list[tuple[_Capped, _Capped]], list[bool]]:
    """Feed stdin and drain every pipe until EOF; stop the trees at the deadline
    (or, with `primary`, once that process has closed its pipes). Returns the
    output sinks and, per process, whether the deadline stopped it."""
    sinks = [(_Capped(), _Capped()) for _ in procs]
    pending: dict[int, memoryview] = {}
    timed_out = [False] * len(procs)
    with selectors.DefaultSelector() as sel:
        for i, (proc, data) in enumerate(zip(procs, inputs)):
            assert proc.stderr
            for pipe, sink in ((proc.stdout, sinks[i][0]), (proc.stderr, sinks[i][1])):
                if pipe is not None:
                    sel.register(pipe, selectors.EVENT_READ, (i, sink))
            if proc.stdin is not None:
                if data:
                    os.set_blocking(proc.stdin.fileno(), False)
                    pending[proc.stdin.fileno()] = memoryview(data)
                    sel.register(proc.stdin, selectors.EVENT_WRITE, (i, None))
                else:
                    proc.stdin.close()
        stopping, end = False, deadline
        try:
            while sel.get_map():
                if primary is not None and not stopping and not any(d[0] == primary for d in _datas(sel)):
                    for proc in procs:
                        _stop(proc, plan)
                    stopping, end = True, time.monotonic() + _GRACE_S
                remaining = end - time.monotonic()
                if remaining <= 0:
                    if stopping or all(proc.poll() is not None for proc in procs):
                        break  # something that escaped holds a pipe; stop listening
                    for i, proc in enumerate(procs):
                        timed_out[i] = proc.poll() is None
                        _stop(proc, plan)
                    stopping, end = True, time.monotonic() + _GRACE_S
                    continue
                for key, _ in sel.select(remaining):
                    index, sink = key.data
                    if sink is None:
                        proc = procs[index]
                        assert proc.stdin
                        try:
                            pending[key.fd] = pending[key.fd][os.write(key.fd, pending[key.fd]) :]
                        except BrokenPipeError:
                            pending[key.fd] = pending[key.fd][:0]
                        if not pending[key.fd]:
                            sel.unregister(proc.stdin)
                            proc.stdin.close()
                        continue
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        sink.add(chunk)
                    else:
                        sel.unregister(key.fileobj)
        finally:
            for proc in procs:
                for pipe in (proc.stdin, proc.stdout, proc.stderr):
                    if pipe is not None:
                        pipe.close()
    return sinks, timed_out


def _datas(sel: selectors.BaseSelector) -> list[tuple[int, _Capped | None]]:
    return [key.data for key in sel.get_map().values()]


def _stop(proc: subprocess.Popen[bytes], plan: _Plan) -> None:
    """End a run early (its deadline, or an error on our side). The rlimits-only
    supervisor is asked to reap the tree: only it can find descendants that
    left the process group. Under bubblewrap, killing bwrap ends the pid
    namespace and everything in it."""
    if plan.isolation == "rlimits-only":
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            pass
    _kill_group(proc.pid)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_reason(code: int) -> str | None:
    if code <= 128 or code - 128 >= signal.NSIG:
        return None
    if code - 128 == signal.SIGXCPU:
        return "CPU time limit"
    try:
        return f"signal {signal.Signals(code - 128).name}"
    except ValueError:
        return f"signal {code - 128}"


class _Capped:
    """A byte sink that keeps the first and last OUTPUT_CAP_BYTES / 2 bytes."""

    def __init__(self) -> None:
        self._half = OUTPUT_CAP_BYTES // 2
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        self._tail += chunk
        if len(self._tail) > 2 * self._half:
            cut = len(self._tail) - self._half
            self._dropped += cut
            del self._tail[:cut]

    def text(self) -> str:
        tail = self._tail[-self._half :] if len(self._tail) > self._half else self._tail
        dropped = self._dropped + len(self._tail) - len(tail)
        middle = f"\n[... {dropped} bytes not kept ...]\n".encode() if dropped else b""
        return bytes(self._head + middle + tail).decode("utf-8", errors="replace")
