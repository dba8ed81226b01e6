"""The simulated endpoints: one loopback aiohttp server speaking the OpenAI
chat-completions and the Anthropic Messages wire protocols.

It exists so that the demo and every test exercise the real `openai` and
`anthropic` SDKs end to end (status codes, error bodies, `retry-after`, SSE
framing, broken streams) without a GPU or an API key. It is also what the
harness's throughput benchmark runs against, so a response costs at most ~18
socket writes and a few `json.dumps` calls; when no delay is due the chunks
are coalesced into one write.

Protocol differences live in two small "wire" classes; the request flow (auth,
parsing, fault draw, answer, pacing, breaking a stream off) is shared.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from evals import __version__
from evals.config import SimBehaviour
from evals.sim import behaviour as bh
from evals.sim.metrics import SimMetrics, prefix_of
from evals.suite.sample import Sample

INVALID_KEY = "invalid-key"
"""The API key that is always refused, so tests can check a 401 is never retried."""

STALL_S = 300.0
"""How long a stalled response holds its connection before closing it."""

MAX_MODEL_LEN = 32768
"""Context length reported by /v1/models, as vLLM reports `max_model_len`."""

RECEIVED_KEPT = 1000
"""Generation request bodies kept for `received()`."""

SHUTDOWN_GRACE_S = 0.25
"""How long stop() lets in-flight handlers finish before cancelling them (stalls would hold it 300 s)."""

ErrorKind = Literal["unauthorized", "bad_request", "unknown_model", "rate_limited", "error"]

_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


@dataclass(slots=True)
class _Call:
    """One generation request, parsed from either protocol."""

    model: str
    prompt: str | None
    """Text of the last user message: what identifies the sample."""
    input_tokens: int
    max_tokens: int | None
    stream: bool
    include_usage: bool
    tools: bool = False
    """The request offered tools: a tool-call sample is answered with calls."""
    sampled: bool = False
    """Identical requests may get different answers: a temperature above 0 or none sent (the Messages API never gets one)."""


@dataclass(slots=True)
class _Reply:
    """What one response carries, whatever the protocol."""

    id: str
    model: str
    created: int
    pieces: tuple[str, ...]
    truncated: bool
    input_tokens: int
    include_usage: bool
    calls: tuple[bh.Call, ...] = ()
    """Tool calls instead of text; `pieces` then count their arguments' tokens."""

    @property
    def text(self) -> str:
        return "".join(self.pieces) if not self.calls else ""

    def call_id(self, i: int) -> str:
        return f"call_{self.id[-10:]}_{i}"


def _argument_pieces(arguments: str) -> list[str]:
    """A call's arguments in up to three fragments, as servers stream them (split inside the JSON text)."""
    n = len(arguments)
    cuts = sorted({0, n // 3, 2 * n // 3, n})
    return [arguments[a:b] for a, b in zip(cuts, cuts[1:]) if b > a]


def _sse(data: dict[str, Any], event: str | None = None) -> str:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {body}\n\n" if event else f"data: {body}\n\n"


def _positive_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
    return value


# ---------------------------------------------------------------- OpenAI wire


class _OpenAIWire:
    """POST /v1/chat/completions as OpenAI and vLLM serve it."""

    endpoint = "/v1/chat/completions"
    id_prefix = "chatcmpl-sim"
    _errors: dict[ErrorKind, tuple[int, str, str | None]] = {
        "unauthorized": (401, "invalid_request_error", "invalid_api_key"),
        "bad_request": (400, "invalid_request_error", None),
        "unknown_model": (404, "invalid_request_error", "model_not_found"),
        "rate_limited": (429, "requests", "rate_limit_exceeded"),
        "error": (500, "server_error", None),
    }

    def parse(self, body: dict[str, Any]) -> _Call:
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str):
            raise ValueError("you must provide a model parameter")
        if not isinstance(messages, list) or not messages:
            raise ValueError("`messages` must be a non-empty list")
        limit = body.get("max_completion_tokens")
        limit = _positive_int(limit if limit is not None else body.get("max_tokens"), "max_tokens")
        stream = bool(body.get("stream"))
        options = body.get("stream_options")
        include_usage = stream and isinstance(options, dict) and bool(options.get("include_usage"))
        tools = _check_tools(body)
        temperature = body.get("temperature")
        sampled = temperature is None or (isinstance(temperature, (int, float)) and temperature > 0)
        return _Call(model, bh.last_user_text(messages), bh.prompt_tokens(messages), limit, stream, include_usage, tools, sampled)

    def error(self, kind: ErrorKind, message: str) -> web.Response:
        status, type_, code = self._errors[kind]
        body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
        return web.json_response(body, status=status)

    @staticmethod
    def _usage(r: _Reply) -> dict[str, Any]:
        out = len(r.pieces)
        return {
            "prompt_tokens": r.input_tokens,
            "completion_tokens": out,
            "total_tokens": r.input_tokens + out,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }

    @staticmethod
    def _finish(r: _Reply) -> str:
        return "length" if r.truncated else "tool_calls" if r.calls else "stop"

    def full(self, r: _Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": r.text, "refusal": None}
        if r.calls:
            message["content"] = None
            message["tool_calls"] = [
                {"id": r.call_id(i), "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for i, c in enumerate(r.calls)
            ]
        return {
            "id": r.id,
            "object": "chat.completion",
            "created": r.created,
            "model": r.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish(r)}],
            "usage": self._usage(r),
        }

    def _chunk(self, r: _Reply, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> str:
        data: dict[str, Any] = {
            "id": r.id,
            "object": "chat.completion.chunk",
            "created": r.created,
            "model": r.model,
            "choices": choices,
        }
        if r.include_usage:
            data["usage"] = usage
        return _sse(data)

    def head(self, r: _Reply) -> str:
        delta = {"role": "assistant", "content": ""}
        return self._chunk(r, [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])

    def delta(self, r: _Reply, text: str) -> str:
        return self._chunk(r, [{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}])

    def call_deltas(self, r: _Reply) -> list[str]:
        """Each call as OpenAI streams it: a first delta with its index, id and name,
        then its arguments in fragments (delta.tool_calls[].function.arguments)."""
        out = []
        for i, c in enumerate(r.calls):
            opening = {"index": i, "id": r.call_id(i), "type": "function", "function": {"name": c.name, "arguments": ""}}
            out.append(self._chunk(r, [{"index": 0, "delta": {"tool_calls": [opening]}, "logprobs": None, "finish_reason": None}]))
            for piece in _argument_pieces(c.arguments):
                d = {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}
                out.append(self._chunk(r, [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]))
        return out

    def tail(self, r: _Reply) -> str:
        end = self._chunk(r, [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": self._finish(r)}])
        usage = self._chunk(r, [], self._usage(r)) if r.include_usage else ""
        return f"{end}{usage}data: [DONE]\n\n"


# ---------------------------------------------------------------- Anthropic wire


class _AnthropicWire:
    """POST /v1/messages as the Anthropic API serves it."""

    endpoint = "/v1/messages"
    id_prefix = "msg_sim"
    _errors: dict[ErrorKind, tuple[int, str]] = {
        "unauthorized": (401, "authentication_error"),
        "bad_request": (400, "invalid_request_error"),
        "unknown_model": (404, "not_found_error"),
        "rate_limited": (429, "rate_limit_error"),
        "error": (500, "api_error"),
    }

    def parse(self, body: dict[str, Any]) -> _Call:
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str):
            raise ValueError("model: Field required")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages: at least one message is required")
        limit = _positive_int(body.get("max_tokens"), "max_tokens")
        if limit is None:
            raise ValueError("max_tokens: Field required")
        system = body.get("system")
        tokens = bh.prompt_tokens(messages, system)
        tools = _check_tools(body)
        return _Call(model, bh.last_user_text(messages), tokens, limit, bool(body.get("stream")), False, tools, sampled=True)

    def error(self, kind: ErrorKind, message: str) -> web.Response:
        status, type_ = self._errors[kind]
        body = {"type": "error", "error": {"type": type_, "message": message}}
        return web.json_response(body, status=status)

    @staticmethod
    def _stop(r: _Reply) -> str:
        return "max_tokens" if r.truncated else "tool_use" if r.calls else "end_turn"

    @staticmethod
    def _usage(r: _Reply, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": r.input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    def _message(
        self, r: _Reply, content: list[dict[str, Any]], stop: str | None, output_tokens: int
    ) -> dict[str, Any]:
        return {
            "id": r.id,
            "type": "message",
            "role": "assistant",
            "model": r.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self._usage(r, output_tokens),
        }

    def full(self, r: _Reply) -> dict[str, Any]:
        if r.calls:
            blocks = [{"type": "tool_use", "id": r.call_id(i), "name": c.name, "input": json.loads(c.arguments)} for i, c in enumerate(r.calls)]
            return self._message(r, blocks, self._stop(r), len(r.pieces))
        return self._message(r, [{"type": "text", "text": r.text}], self._stop(r), len(r.pieces))

    def head(self, r: _Reply) -> str:
        start = _sse({"type": "message_start", "message": self._message(r, [], None, 1)}, "message_start")
        if r.calls:
            return start + _sse({"type": "ping"}, "ping")
        return (
            start
            + _sse(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            )
            + _sse({"type": "ping"}, "ping")
        )

    def call_deltas(self, r: _Reply) -> list[str]:
        """Each call as its own tool_use block: content_block_start with an empty input,
        input_json_delta events carrying the input's JSON text in fragments, content_block_stop."""
        out = []
        for i, c in enumerate(r.calls):
            block = {"type": "tool_use", "id": r.call_id(i), "name": c.name, "input": {}}
            out.append(_sse({"type": "content_block_start", "index": i, "content_block": block}, "content_block_start"))
            for piece in _argument_pieces(c.arguments):
                d = {"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": piece}}
                out.append(_sse(d, "content_block_delta"))
            out.append(_sse({"type": "content_block_stop", "index": i}, "content_block_stop"))
        return out

    def delta(self, r: _Reply, text: str) -> str:
        data = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        return _sse(data, "content_block_delta")

    def tail(self, r: _Reply) -> str:
        delta = {"stop_reason": self._stop(r), "stop_sequence": None}
        return (
            ("" if r.calls else _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
            + _sse({"type": "message_delta", "delta": delta, "usage": self._usage(r, len(r.pieces))}, "message_delta")
            + _sse({"type": "message_stop"}, "message_stop")
        )


_Wire = _OpenAIWire | _AnthropicWire


# ---------------------------------------------------------------- stats


class _Stats:
    """Requests served per endpoint, model and outcome. Locked because `stats()`
    is read from the caller's thread while the server's thread writes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, endpoint: str, model: str, outcome: str) -> None:
        with self._lock:
            self._counts[(endpoint, model, outcome)] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = list(self._counts.items())
        by_endpoint: dict[str, dict[str, dict[str, int]]] = {}
        by_model: dict[str, dict[str, int]] = {}
        for (endpoint, model, outcome), n in sorted(counts):
            by_endpoint.setdefault(endpoint, {}).setdefault(model, {})[outcome] = n
            per_model = by_model.setdefault(model, {})
            per_model[outcome] = per_model.get(outcome, 0) + n
        return {"requests": sum(n for _, n in counts), "by_model": by_model, "by_endpoint": by_endpoint}


# ---------------------------------------------------------------- server


def _api_key(request: web.Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class SimServer:
    """Simulated OpenAI + Anthropic endpoints for the models in `models`.

    `models` maps the model name sent in requests to its behaviour; every model
    is served on both endpoints. `samples` are what the simulated models know
    the answers to. Use `start()`/`stop()` (or `with`) to serve from a background
    thread, or `await serve_forever()` on the caller's loop.
    """

    def __init__(
        self,
        models: dict[str, SimBehaviour],
        samples: list[Sample] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._models = dict(models)
        self._rngs = {name: random.Random(b.seed) for name, b in self._models.items()}
        self._draws: dict[tuple[str, str | None], int] = {}
        self._index = bh.index_samples(samples or [])
        self._stats = _Stats()
        self._metrics = SimMetrics(self._models)
        self._ids = itertools.count(1)
        self._received: deque[dict[str, Any]] = deque(maxlen=RECEIVED_KEPT)
        from evals.sim.batch import SimBatches  # it answers through this module's wires

        self.batches = SimBatches(self)
        """The OpenAI Batch and Anthropic Message Batches endpoints (evals/sim/batch.py)."""
        self._openai = _OpenAIWire()
        self._anthropic = _AnthropicWire()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SimServer is not listening; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """Root URL: the Anthropic SDK takes it as is, the OpenAI SDK needs `+ "/v1"`."""
        return f"http://{self.host}:{self.port}"

    def stats(self) -> dict[str, Any]:
        """The same JSON as GET /stats."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    def received(self) -> list[dict[str, Any]]:
        """The bodies of the last RECEIVED_KEPT generation requests, as sent: what tests check the wire against."""
        return list(self._received)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/stats", self._get_stats)
        app.router.add_get("/metrics", self._get_metrics)
        app.router.add_get("/version", self._version)
        app.router.add_post("/stats/reset", self._reset_stats)
        self.batches.add_routes(app)
        return app

    async def _open(self) -> None:
        # handler_cancellation: a client that hangs up on a stalled stream frees its handler at once.
        runner = web.AppRunner(
            self.app(),
            access_log=None,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._port = None

    async def serve_forever(self, ready: Callable[[SimServer], None] | None = None) -> None:
        """Serve on the running loop until cancelled; `ready` is called once listening
        (e.g. for a CLI to print `base_url`)."""
        await self._open()
        try:
            if ready is not None:
                ready(self)
            await asyncio.Event().wait()
        finally:
            await self._close()

    def start(self) -> SimServer:
        """Serve from a background thread with its own loop; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("SimServer is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as e:  # reported to the caller of start()
                failure.append(e)
                loop.close()
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        thread = threading.Thread(target=run, name="evals-sim", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise failure[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop serving; in-flight requests get SHUTDOWN_GRACE_S, then their connections close."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = self._loop = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ small routes

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response()

    async def _get_metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self._metrics.render(), content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})

    async def _version(self, request: web.Request) -> web.Response:
        """As vLLM's GET /version, saying what answers."""
        return web.json_response({"version": f"sim-{__version__}"})

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _reset_stats(self, request: web.Request) -> web.Response:
        self._stats.reset()
        return web.json_response(self.stats())

    async def _list_models(self, request: web.Request) -> web.Response:
        key = _api_key(request)
        if not key or key == INVALID_KEY:
            return self._openai.error("unauthorized", "Incorrect API key provided.")
        data = [
            {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": "evals-sim",
                "root": name,
                "parent": None,
                "max_model_len": MAX_MODEL_LEN,
            }
            for name in self._models
        ]
        return web.json_response({"object": "list", "data": data})

    # ------------------------------------------------------------ generation

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, self._openai)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, self._anthropic)

    def draw(self, call: _Call) -> int | None:
        """For a sampling request, the how-manieth one this server saw for (model, prompt); None for a greedy one."""
        if not call.sampled:
            return None
        key = (call.model, call.prompt)
        n = self._draws[key] = self._draws.get(key, 0) + 1
        return n

    def _refuse(self, wire: _Wire, model: str, kind: ErrorKind, message: str) -> web.Response:
        self._stats.add(wire.endpoint, model, kind)
        return wire.error(kind, message)

    async def _generate(self, request: web.Request, wire: _Wire) -> web.StreamResponse:
        """Shared request flow: auth, parse, model, fault draw, answer, delivery."""
        arrived = asyncio.get_running_loop().time()
        body: dict[str, Any] | None
        try:
            parsed = json.loads(await request.read())
            body = parsed if isinstance(parsed, dict) else None
        except ValueError:
            body = None
        named = body.get("model") if body is not None else None
        model = named if isinstance(named, str) else "-"

        key = _api_key(request)
        if not key or key == INVALID_KEY:
            return self._refuse(wire, model, "unauthorized", "Invalid API key. (simulated)")
        if body is None:
            return self._refuse(wire, model, "bad_request", "The request body is not a valid JSON object.")
        try:
            call = wire.parse(body)
        except ValueError as e:
            return self._refuse(wire, model, "bad_request", str(e))
        behaviour = self._models.get(call.model)
        if behaviour is None:
            known = ", ".join(self._models)
            return self._refuse(wire, call.model, "unknown_model", f"model: {call.model} not found (known: {known})")

        outcome = bh.draw_fault(self._rngs[call.model], behaviour)
        self._stats.add(wire.endpoint, call.model, outcome)
        if outcome == "rate_limited":
            resp = wire.error("rate_limited", "Rate limit reached (simulated).")
            resp.headers["retry-after"] = f"{behaviour.retry_after_s:g}"
            resp.headers["retry-after-ms"] = str(round(behaviour.retry_after_s * 1000))
            return resp
        if outcome == "error":
            return wire.error("error", "The server had an error while processing your request. (simulated)")

        self._received.append(body)
        answer = bh.choose_answer(self._index, behaviour, call.model, call.prompt, call.tools, self.draw(call))
        calls = answer if isinstance(answer, tuple) else ()
        pieces = bh.tokenise("".join(c.arguments for c in calls) if calls else answer)
        truncated = call.max_tokens is not None and len(pieces) > call.max_tokens
        if truncated:
            pieces = pieces[: call.max_tokens]
            calls = ()  # a cut-off call is no call: the truncated text of its arguments is sent instead
        reply = _Reply(
            id=f"{wire.id_prefix}{next(self._ids):010d}",
            model=call.model,
            created=int(time.time()),
            pieces=pieces,
            truncated=truncated,
            input_tokens=call.input_tokens,
            include_usage=call.include_usage and "no_stream_usage" not in behaviour.quirks,
            calls=calls,
        )
        kv_tokens = call.input_tokens + len(reply.pieces)
        self._metrics.started(call.model, call.input_tokens, prefix_of(body), kv_tokens)
        try:
            if call.stream:
                return await self._stream(request, wire, reply, behaviour, outcome, arrived)
            return await self._respond_whole(request, wire, reply, behaviour, outcome, arrived)
        finally:  # dropped, stalled or hung-up requests count as aborted, as vLLM counts them
            ok = outcome == "ok"
            self._metrics.finished(
                call.model,
                kv_tokens=kv_tokens,
                generation_tokens=len(reply.pieces) if ok else 0,
                reason=("length" if reply.truncated else "stop") if ok else "abort",
                ttft_s=bh.due_s(behaviour, 0),
                e2e_s=asyncio.get_running_loop().time() - arrived,
            )

    async def _respond_whole(
        self, request: web.Request, wire: _Wire, reply: _Reply, b: SimBehaviour, outcome: bh.Outcome, arrived: float
    ) -> web.StreamResponse:
        """Non-streaming: wait as long as generating the answer takes, then send it.
        A dropped or stalled request breaks off at the first token instead."""
        last = 0 if outcome != "ok" else max(len(reply.pieces) - 1, 0)
        await _sleep_until(arrived + bh.due_s(b, last))
        if outcome != "ok":
            return await _break_off(request, web.Response(), outcome)
        return web.json_response(wire.full(reply))

    async def _stream(
        self, request: web.Request, wire: _Wire, reply: _Reply, b: SimBehaviour, outcome: bh.Outcome, arrived: float
    ) -> web.StreamResponse:
        """SSE delivery paced by the behaviour: the opening events and the first token
        at ttft, then at most MAX_CHUNKS - 1 more chunks at tokens_per_second. Chunks
        that are already due are coalesced into one write."""
        resp = web.StreamResponse(headers=_SSE_HEADERS)
        try:
            return await self._send_stream(request, resp, wire, reply, b, outcome, arrived)
        except ConnectionResetError:  # the client hung up (a cancelled or timed-out request): nothing to send
            return resp

    async def _send_stream(
        self, request: web.Request, resp: web.StreamResponse, wire: _Wire, reply: _Reply, b: SimBehaviour, outcome: bh.Outcome, arrived: float
    ) -> web.StreamResponse:
        await resp.prepare(request)
        if reply.calls:
            return await self._send_calls(request, resp, wire, reply, b, outcome, arrived)
        loop = asyncio.get_running_loop()
        pending = [wire.head(reply)]
        for i, (start, end) in enumerate(bh.chunk_bounds(len(reply.pieces))):
            delay = arrived + bh.due_s(b, end - 1) - loop.time()
            if delay > 0:
                if i > 0:
                    await resp.write("".join(pending).encode())
                    pending.clear()
                await asyncio.sleep(delay)
            pending.append(wire.delta(reply, "".join(reply.pieces[start:end])))
            if outcome != "ok":
                break
        if outcome != "ok":
            await resp.write("".join(pending).encode())
            return await _break_off(request, resp, outcome)
        pending.append(wire.tail(reply))
        await resp.write("".join(pending).encode())
        await resp.write_eof()
        return resp


    async def _send_calls(
        self, request: web.Request, resp: web.StreamResponse, wire: _Wire, reply: _Reply, b: SimBehaviour, outcome: bh.Outcome, arrived: float
    ) -> web.StreamResponse:
        """Tool calls streamed: the opening events and the first call's opening at ttft,
        the rest when the last argument token is due (a dropped stream breaks off after the first)."""
        events = wire.call_deltas(reply)
        await _sleep_until(arrived + bh.due_s(b, 0))
        await resp.write((wire.head(reply) + events[0]).encode())
        if outcome != "ok":
            return await _break_off(request, resp, outcome)
        await _sleep_until(arrived + bh.due_s(b, max(len(reply.pieces) - 1, 0)))
        await resp.write(("".join(events[1:]) + wire.tail(reply)).encode())
        await resp.write_eof()
        return resp


def _check_tools(body: dict[str, Any]) -> bool:
    """Whether the request offers tools; a malformed tools list is the client's error (400), as real servers answer."""
    tools = body.get("tools")
    if tools is None:
        return False
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ValueError("`tools` must be a list of tool objects")
    return bool(tools)


async def _sleep_until(deadline: float) -> None:
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


async def _break_off(request: web.Request, resp: web.StreamResponse, outcome: bh.Outcome) -> web.StreamResponse:
    """End a dropped or stalled response the way a crashed server or a broken
    network does: the connection closes with the response unfinished (a stall
    first holds it silent for STALL_S, or until the client gives up).

    The returned response is never completed: aiohttp finds the transport
    closing, skips the rest of the response and drops the connection quietly.
    """
    if outcome == "stalled":
        await asyncio.sleep(STALL_S)
    if request.transport is not None:
        request.transport.close()
    return resp
