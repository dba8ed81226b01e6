"""OpenAI chat-completions over a minimal HTTP/1.1 client on asyncio's transports and llhttp: the lean client.

The official SDK spends about 0.25 ms of CPU per streamed event (pydantic
models, httpx2 layers, its SSE decoder), so at a few hundred concurrent
streams one core falls behind and time to first token, inter-token latency
and the capacity `evals measure` finds become the client's, not the server's
(issue 18). This client does per event only what the stream driver needs:
split the SSE lines, decode one chunk's JSON, pick the text, tool-call
fragments, finish reason, usage and model out of plain dicts; and per
request only what HTTP/1.1 needs (`_Conn`, `_Pool`: keep-alive connections; the
response framed by llhttp through httptools, the parser uvicorn uses), about a
third of what aiohttp spent.

It yields the same events as `OpenAIChatProvider.events` and is driven by the
same `drive`, so timing, timeouts, the status of a stream, the stale keep-alive
retry and the failure mapping (`evals.providers.errors.from_exception`, given
this module's exceptions in the SDK's places) are shared: the conformance
tests (tests/test_lean_stream.py) require identical Completions from both.

Why not orjson: it is not installed here, and `json.loads` of a ~250-byte
chunk costs a few microseconds, two orders below the SDK's per-event cost.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import SplitResult, urlsplit

import aiohttp
import httptools
from multidict import CIMultiDict

from evals.providers.base import Completion, GenerationParams, Message, Timeouts
from evals.providers.errors import from_exception, is_stale
from evals.providers.openai_wire import chunk_events, whole_events
from evals.providers.stream import Event, ServedModel, drive
from evals.providers.translate import OPENAI_FINISH_STATUS, to_openai

_scan: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner behind json.loads, without its per-call Python layers


def loads(data: bytes) -> Any:
    """`json.loads(data)` for one SSE data field, about three times cheaper on the usual chunk:
    a compact UTF-8 JSON document goes straight to the C scanner. Anything else (surrounding
    whitespace, another encoding, invalid JSON) takes `json.loads`, with its result and errors."""
    try:
        s = data.decode()
        obj, end = _scan(s, 0)
        if end == len(s):
            return obj
    except (StopIteration, ValueError):  # ValueError: also UnicodeDecodeError and JSONDecodeError
        pass
    return json.loads(data)


class HTTPStatusError(Exception):
    """A non-2xx answer, shaped like the SDK's APIStatusError (status_code,
    response.headers, body) so `from_exception` maps it the same way."""

    def __init__(self, status: int, headers: Any, body: object) -> None:
        super().__init__(f"Error code: {status} - {body}")
        self.status_code = status
        self.response = SimpleNamespace(headers=headers)
        self.body = body


# `from_exception` takes the SDK module for its exception classes; these are the lean client's.
_SDK = SimpleNamespace(APIStatusError=HTTPStatusError, APITimeoutError=aiohttp.ServerTimeoutError)


def _error_body(raw: bytes) -> object:
    """The SDK's error body: the JSON's `error` member when there is one, else the JSON, else the text."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
    return body.get("error", body) if isinstance(body, dict) else body


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


# ---------------------------------------------------------------- HTTP/1.1 on asyncio's transports

KEEPALIVE_S = 4.0
"""An idle pooled connection older than this is closed, not reused: uvicorn (vLLM's server) closes idle
keep-alive connections after 5 s, and a request written into one it is closing costs a stale retry."""
class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: writes a request and hands the response's bytes to
    llhttp (httptools, the parser behind uvicorn), which frames the body (chunked, content-length
    or until close, interim 1xx responses skipped); the body is decoded as it arrives, for `read`.

    aiohttp's request path cost about 0.2 ms of CPU per request (its request and response
    objects, connector, payload writer, stream reader), as much as parsing a dozen chunks;
    at the thousand requests a second of an open-loop `evals measure` that was a fifth of a
    core. Its exceptions are kept for the failures (`ServerDisconnectedError` before the
    response head, `ClientPayloadError` for a body cut short or a malformed response), so
    `is_stale` and `from_exception` map them as before."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.on_done: Callable[[], None] | None = None
        self.sent = 0
        """Requests sent on this connection."""
        self._parser = httptools.HttpResponseParser(self)
        self._start()

    def _start(self) -> None:
        self.status = 0
        self.head: list[tuple[str, str]] = []
        self.keep_alive = True
        self.has_head = False
        self.done = False
        self._until_close = False
        self._fields: list[tuple[str, str]] = []
        self._pieces: list[bytes] = []
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._inflate: Any = None

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.done and self._exc is None:
            if self._until_close:  # a body without length or chunks ends with the connection
                self._finish()
            else:
                err: Exception = aiohttp.ClientPayloadError("Response payload is not completed") if self.has_head else aiohttp.ServerDisconnectedError()
                err.__cause__ = exc
                self._exc = err
        self._wake()

    def data_received(self, data: bytes) -> None:
        if self.done:  # nothing is expected on this connection before the next request
            self.keep_alive = self.keep_alive and not data
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:  # a malformed response: the connection is not reused
            if not self.done:  # bytes after a complete response spoil only the connection
                self._exc = aiohttp.ClientPayloadError(f"malformed HTTP response: {exc}")
            self.keep_alive = False
            if self.transport is not None:
                self.transport.close()
        self._wake()

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    # -- llhttp's callbacks

    def on_message_begin(self) -> None:
        if self.done:  # more after the response in the same read: nothing to reuse the connection for
            self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim response: the real one follows
            self._fields = []
            return
        head, self._fields = self._fields, []
        fields = {k.lower(): v for k, v in head}
        self.keep_alive = self._parser.should_keep_alive()
        self.status, self.head, self.has_head = status, head, True
        coding = fields.get("content-encoding", "identity").lower()
        if coding in ("gzip", "x-gzip", "deflate"):
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip wrapper, detected
        elif coding != "identity":
            raise ValueError(f"unsupported content-encoding {coding!r}")
        if "chunked" not in fields.get("transfer-encoding", "").lower() and "content-length" not in fields and status not in (204, 304):
            self._until_close, self.keep_alive = True, False

    def on_body(self, body: bytes) -> None:
        self._push(body)

    def on_message_complete(self) -> None:
        if self.has_head:  # not the end of an interim 1xx
            self._finish()

    def _push(self, piece: bytes) -> None:
        if self._inflate is not None:
            piece = self._inflate.decompress(piece)
        if piece:
            self._pieces.append(piece)

    def _finish(self) -> None:
        if self._inflate is not None:
            rest, self._inflate = self._inflate.flush(), None
            if rest:
                self._pieces.append(rest)
        self.done = True
        if self.on_done is not None:
            cb, self.on_done = self.on_done, None
            cb()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    # -- the request's side

    def send(self, data: bytes) -> None:
        self._start()
        self.sent += 1
        if self.closed or self.transport is None:  # closed by the server since it was connected
            self._exc = aiohttp.ServerDisconnectedError()
            return
        self.transport.write(data)

    async def _wait(self) -> None:
        self._waiter = self.loop.create_future()
        await self._waiter

    async def response_head(self) -> None:
        while not self.has_head:
            if self._exc is not None:
                raise self._exc
            await self._wait()

    async def read(self) -> bytes:
        """The body's next decoded bytes (all that arrived since the last call); b"" at its end."""
        while True:
            pieces = self._pieces
            if pieces:
                self._pieces = []
                return pieces[0] if len(pieces) == 1 else b"".join(pieces)
            if self._exc is not None:
                raise self._exc
            if self.done:
                return b""
            await self._wait()

    async def read_all(self) -> bytes:
        parts = []
        while piece := await self.read():
            parts.append(piece)
        return b"".join(parts)

    def headers(self) -> CIMultiDict[str]:
        return CIMultiDict(self.head)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _origin(url: str) -> SplitResult:
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"the lean client speaks http:// and https:// only, not {url!r}")
    return u


class _Pool:
    """Keep-alive connections to one origin, at most `limit` requests at once (more wait, as with
    aiohttp's connector limit); `reuse` False opens a connection per request."""

    def __init__(self, url: str, limit: int, connect_s: float) -> None:
        u = _origin(url)
        self.host: str = u.hostname  # type: ignore[assignment]  # _origin checked it
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if u.scheme == "https" else None
        self.origin = f"{u.scheme}://{u.netloc}"
        self.connect_s = connect_s
        self.reuse = True
        self._idle: list[_Conn] = []
        self._draining: set[_Conn] = set()
        self._slots = asyncio.Semaphore(limit)

    async def acquire(self) -> _Conn:
        await self._slots.acquire()
        try:
            loop = asyncio.get_running_loop()
            now = loop.time()
            while self._idle:
                c = self._idle.pop()
                if not c.closed and c.keep_alive and now - c.idle_since < KEEPALIVE_S:
                    return c
                c.close()
            try:
                async with asyncio.timeout(self.connect_s):
                    _, conn = await loop.create_connection(lambda: _Conn(loop), self.host, self.port, ssl=self.ssl, server_hostname=self.host if self.ssl else None)
            except TimeoutError as exc:
                raise aiohttp.ConnectionTimeoutError(f"Connection timeout to host {self.origin}") from exc
            return conn
        except BaseException:
            self._slots.release()
            raise

    def release(self, c: _Conn, finished: bool) -> None:
        """`finished`: the caller read what it needed. A response whose end has not arrived yet
        (the terminating chunk after [DONE]) goes back to the pool when it does."""
        self._slots.release()
        if not (self.reuse and finished and c.keep_alive) or c.closed or c._exc is not None:
            c.close()
        elif c.done:
            self._keep(c)
        else:
            self._draining.add(c)
            c.on_done = lambda: self._keep(c)
            c.loop.call_later(KEEPALIVE_S, self._give_up, c, c.sent)

    def _give_up(self, c: _Conn, sent: int) -> None:
        """Close a connection whose response number `sent` still has not ended (not a later one's)."""
        if c.sent == sent and not c.done:
            self._draining.discard(c)
            c.close()

    def _keep(self, c: _Conn) -> None:
        self._draining.discard(c)
        if self.reuse and c.keep_alive and not c.closed:
            c.idle_since = c.loop.time()
            self._idle.append(c)
        else:
            c.close()

    def close(self) -> None:
        """Close the idle connections and those still waiting for a body's end; the ones in use close when released."""
        self.reuse = False
        for c in (*self._idle, *self._draining):
            c.close()
        self._idle.clear()
        self._draining.clear()


class LeanOpenAIProvider:
    """Same constructor and contract as `OpenAIChatProvider`; the connection pool is
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
        u = urlsplit(self._url)
        # Local servers (vLLM without --api-key) accept any key; send one as the SDK does.
        key = api_key or "no-key"
        if any(c in key for c in "\r\n"):
            raise ValueError(f"runner {name!r}: the API key holds a line break")
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Accept: {'text/event-stream' if stream else 'application/json'}\r\nAccept-Encoding: identity\r\nUser-Agent: workload-evals\r\nContent-Length: "
        ).encode()
        _origin(self._url)  # refuse a URL it cannot speak to now, not at the first request
        self._pool: _Pool | None = None
        self._retired: list[_Pool] = []

    def _make_pool(self) -> _Pool:
        pool = _Pool(self._url, self.max_connections, self.timeouts.connect_s)
        pool.reuse = self.reuses_connections
        return pool

    def _body(self, messages: list[Message], params: GenerationParams) -> bytes:
        req = to_openai(messages, params, model=self.model, max_tokens_field=self.max_tokens_field, stream=self.stream)
        extra = req.pop("extra_body", None)
        if extra:  # the SDK merges extra_body into the top level of the JSON body
            req.update(extra)
        return json.dumps(req).encode()

    async def events(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[Event]:
        pool = self._pool
        if pool is None:
            pool = self._pool = self._make_pool()
        body = self._body(messages, params)
        conn = await pool.acquire()
        finished = False
        try:
            conn.send(self._head + str(len(body)).encode() + b"\r\n\r\n" + body)
            await conn.response_head()
            if conn.status >= 400:
                raise HTTPStatusError(conn.status, conn.headers(), _error_body(await conn.read_all()))
            if not self.stream:
                raw = await conn.read_all()
                finished = True
                for ev in whole_events(json.loads(raw)):
                    yield ev
                return
            sse = SSELines()
            served = False
            while piece := await conn.read():
                for data in sse.feed(piece):
                    if data.startswith(b"[DONE]"):
                        finished = True
                        return
                    for ev in chunk_events(loads(data), served):
                        if type(ev) is ServedModel:
                            served = True
                        yield ev
            finished = True
        finally:
            pool.release(conn, finished)

    def _stop_reusing_connections(self) -> None:
        """The server closes connections it announced as keep-alive: from now on
        every request opens its own connection."""
        if not self.reuses_connections:
            return
        self.reuses_connections = False
        if self._pool is not None:
            self._pool.close()

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        return await drive(
            lambda: self.events(messages, params),
            timeouts=self.timeouts,
            statuses=OPENAI_FINISH_STATUS,
            classify=lambda exc, got: from_exception(exc, sdk=_SDK, got_content=got, base_url=self.base_url),
            streamed=self.stream,
            missing="a finish_reason",
            is_stale=is_stale,
            on_stale=self._stop_reusing_connections,
        )

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self._pool = None
