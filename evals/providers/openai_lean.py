"""OpenAI chat-completions over a bare aiohttp session: the lean client.

The official SDK spends about 0.25 ms of CPU per streamed event (pydantic
models, httpx2 layers, its SSE decoder), so at a few hundred concurrent
streams one core falls behind and time to first token, inter-token latency
and the capacity `evals measure` finds become the client's, not the server's
(issue 18). This client does per event only what the stream driver needs:
split the SSE lines, `json.loads` one chunk, pick the text, tool-call
fragments, finish reason, usage and model out of plain dicts.

It yields the same events as `OpenAIChatProvider.events` and is driven by the
same `drive`, so timing, timeouts, the status of a stream, the stale keep-alive
retry and the failure mapping (`evals.providers.errors.from_exception`, given
this module's exceptions in the SDK's places) are shared: the conformance
tests (tests/test_lean_stream.py) require identical Completions from both.

Why not orjson: it is not installed here, and `json.loads` of a ~250-byte
chunk costs a few microseconds, two orders below the SDK's per-event cost.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp

from evals.providers.base import Completion, GenerationParams, Message, Timeouts, Usage
from evals.providers.errors import from_exception, is_stale
from evals.providers.openai_chat import _FINISH_STATUS
from evals.providers.stream import Event, Finish, ServedModel, TextDelta, ToolCallDelta, UsageReport, drive
from evals.providers.translate import to_openai


class HTTPStatusError(Exception):
    """A non-2xx answer, shaped like the SDK's APIStatusError (status_code,
    response.headers, body) so `from_exception` maps it the same way."""

    def __init__(self, status: int, headers: Any, body: object) -> None:
        super().__init__(f"Error code: {status} - {body}")
        self.status_code = status
        self.response = SimpleNamespace(headers=headers)
        self.body = body


class StreamError(Exception):
    """An `{"error": ...}` event inside a 200 stream (vLLM reports a failure mid-stream so),
    as the SDK raises APIError for it."""


# `from_exception` takes the SDK module for its exception classes; these are the lean client's.
_SDK = SimpleNamespace(APIStatusError=HTTPStatusError, APITimeoutError=aiohttp.ServerTimeoutError)


def _usage(u: dict[str, Any]) -> Usage:
    pd = u.get("prompt_tokens_details") or {}
    cd = u.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=u.get("prompt_tokens"),
        cached_input_tokens=pd.get("cached_tokens"),
        output_tokens=u.get("completion_tokens"),
        reasoning_tokens=cd.get("reasoning_tokens"),
    )


def _error_body(raw: bytes) -> object:
    """The SDK's error body: the JSON's `error` member when there is one, else the JSON, else the text."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
    return body.get("error", body) if isinstance(body, dict) else body


def chunk_events(obj: Any, served: bool) -> list[Event]:
    """The events of one decoded stream chunk (`served`: the model was already reported)."""
    if not isinstance(obj, dict):
        return []
    err = obj.get("error")
    if err:
        msg = err.get("message") if isinstance(err, dict) else None
        raise StreamError(msg if isinstance(msg, str) and msg else "An error occurred during streaming")
    out: list[Event] = []
    if not served and (model := obj.get("model")):
        out.append(ServedModel(model))
    usage = obj.get("usage")
    if usage is not None:
        out.append(UsageReport(_usage(usage)))
    for choice in obj.get("choices") or ():
        delta = choice.get("delta")
        if delta:
            content = delta.get("content")
            if content:
                out.append(TextDelta(content))
            for tc in delta.get("tool_calls") or ():
                fn = tc.get("function") or {}
                out.append(ToolCallDelta(tc.get("index", 0), tc.get("id"), fn.get("name"), fn.get("arguments") or ""))
        reason = choice.get("finish_reason")
        if reason:
            out.append(Finish(reason))
    return out


def whole_events(obj: Any) -> list[Event]:
    """The events of a whole (non-streamed) response, in the SDK path's order."""
    if not isinstance(obj, dict):
        return []
    out: list[Event] = []
    if obj.get("model"):
        out.append(ServedModel(obj["model"]))
    if obj.get("usage") is not None:
        out.append(UsageReport(_usage(obj["usage"])))
    choices = obj.get("choices") or []
    if choices:
        choice = choices[0]
        message = choice.get("message") or {}
        if message.get("content"):
            out.append(TextDelta(message["content"]))
        for i, tc in enumerate(message.get("tool_calls") or ()):
            fn = tc.get("function") or {}
            out.append(ToolCallDelta(i, tc.get("id"), fn.get("name"), fn.get("arguments") or ""))
        if choice.get("finish_reason"):
            out.append(Finish(choice["finish_reason"]))
    return out


class SSELines:
    """Server-sent events from raw body pieces: yields each event's data (its
    `data:` lines joined by newlines). Other fields (event, id, retry, comments)
    carry nothing an OpenAI chat stream needs. Lines may end in LF, CRLF or CR."""

    def __init__(self) -> None:
        self._rest = b""
        self._data: list[bytes] = []

    def feed(self, piece: bytes) -> list[bytes]:
        buf = self._rest + piece if self._rest else piece
        if b"\r" in buf:
            # a CR at the very end may be the first half of a CRLF: keep it for the next piece
            hold = buf.endswith(b"\r")
            buf = (buf[:-1] if hold else buf).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buf.split(b"\n")
            self._rest = lines.pop() + (b"\r" if hold else b"")
        else:
            lines = buf.split(b"\n")
            self._rest = lines.pop()
        out: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    out.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data.clear()
            elif line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
        return out


class LeanOpenAIProvider:
    """Same constructor and contract as `OpenAIChatProvider`; the session is
    made on first use, inside the event loop that runs the requests."""

    def __init__(
        self,
        *,
        name: str,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeouts: Timeouts,
        max_tokens_field: str = "max_tokens",
        max_connections: int = 1000,
        stream: bool = True,
    ) -> None:
        if not base_url:
            raise ValueError(f"runner {name!r}: the lean client needs the server's base_url (it only speaks to OpenAI-compatible servers)")
        self.name = name
        self.model = model
        self.base_url: str | None = base_url
        self.timeouts = timeouts
        self.stream = stream
        self.max_tokens_field = max_tokens_field
        self.max_connections = max_connections
        self.reuses_connections = True
        self._url = base_url.rstrip("/") + "/chat/completions"
        # Local servers (vLLM without --api-key) accept any key; send one as the SDK does.
        self._headers = {"Authorization": f"Bearer {api_key or 'no-key'}", "Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        self._session: aiohttp.ClientSession | None = None
        self._retired: list[aiohttp.ClientSession] = []

    def _make_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, force_close=not self.reuses_connections)
        # The driver owns the idle and total timeouts; the session only bounds connecting.
        timeout = aiohttp.ClientTimeout(total=None, connect=self.timeouts.connect_s, sock_connect=self.timeouts.connect_s)
        return aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=True)

    def _body(self, messages: list[Message], params: GenerationParams) -> bytes:
        req = to_openai(messages, params, model=self.model, max_tokens_field=self.max_tokens_field, stream=self.stream)
        extra = req.pop("extra_body", None)
        if extra:  # the SDK merges extra_body into the top level of the JSON body
            req.update(extra)
        return json.dumps(req).encode()

    async def events(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[Event]:
        if self._session is None:
            self._session = self._make_session()
        async with self._session.post(self._url, data=self._body(messages, params), headers=self._headers) as resp:
            if resp.status >= 400:
                raise HTTPStatusError(resp.status, resp.headers, _error_body(await resp.read()))
            if not self.stream:
                for ev in whole_events(json.loads(await resp.read())):
                    yield ev
                return
            sse = SSELines()
            served = False
            loads = json.loads
            async for piece in resp.content.iter_any():
                for data in sse.feed(piece):
                    if data.startswith(b"[DONE]"):
                        return
                    for ev in chunk_events(loads(data), served):
                        if type(ev) is ServedModel:
                            served = True
                        yield ev

    def _stop_reusing_connections(self) -> None:
        """The server closes connections it announced as keep-alive: from now on
        every request opens its own connection (a connector that never pools)."""
        if not self.reuses_connections:
            return
        self.reuses_connections = False
        if self._session is not None:
            self._retired.append(self._session)
        self._session = self._make_session()

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        return await drive(
            lambda: self.events(messages, params),
            timeouts=self.timeouts,
            statuses=_FINISH_STATUS,
            classify=lambda exc, got: from_exception(exc, sdk=_SDK, got_content=got, base_url=self.base_url),
            streamed=self.stream,
            missing="a finish_reason",
            is_stale=is_stale,
            on_stale=self._stop_reusing_connections,
        )

    async def aclose(self) -> None:
        for s in (*self._retired, *([self._session] if self._session is not None else [])):
            await s.close()
        self._retired.clear()
        self._session = None
