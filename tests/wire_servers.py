"""Small hand-written HTTP servers on loopback for the faults the simulated
server does not have: one that closes the connection after every streamed
response while announcing keep-alive (as llama.cpp's llama-server does), one
that answers 200 with an empty stream, one with a fixed status and headers.

Raw asyncio rather than a web framework, so the bytes on the wire are exactly
the fault under test. Each server runs its own event loop in a thread and
counts the requests that reached it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any, Self

CLOSE_DELAY_S = 0.05

Reply = Callable[[str, dict[str, Any]], tuple[int, dict[str, str], list[bytes], bool]]
"""(path, request json) -> (status, headers, body pieces, close after)."""


def _sse(events: list[dict[str, Any] | str]) -> list[bytes]:
    out = []
    for e in events:
        out.append(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode())
    return out


def openai_stream(text: str = "billing", model: str = "m") -> list[bytes]:
    """An OpenAI chat stream: one chunk per word, a finish_reason, then usage."""
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model}
    words = text.split(" ")
    chunks: list[dict[str, Any] | str] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    for i, w in enumerate(words):
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": w if i == 0 else " " + w}, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": len(words), "total_tokens": 10 + len(words)}})
    chunks.append("[DONE]")
    return _sse(chunks)


def anthropic_stream(text: str = "billing", model: str = "m") -> list[bytes]:
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 1}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return [f"event: {name}\ndata: {json.dumps(body)}\n\n".encode() for name, body in events]


def close_after_stream(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], list[bytes], bool]:
    """llama-server's habit: a streamed answer that says keep-alive, then the socket closes."""
    pieces = anthropic_stream() if path.endswith("/messages") else openai_stream()
    return 200, {"content-type": "text/event-stream", "connection": "keep-alive"}, pieces, True


def empty_stream(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], list[bytes], bool]:
    return 200, {"content-type": "text/event-stream"}, [], False


class LoopServer:
    """A raw asyncio server on loopback, on its own event loop in a thread; subclasses write `_serve`."""

    def __init__(self) -> None:
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop)
        self._server = fut.result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class WireServer(LoopServer):
    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.reply = reply
        self.requests = 0
        """Model calls received (chat completions, messages); a run's probes of /version, /metrics and /v1/models are not counted."""
        self.probes = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if ":" in x)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                if path.endswith(("/chat/completions", "/messages")):
                    self.requests += 1
                else:
                    self.probes += 1
                status, out_headers, pieces, close = self.reply(path, json.loads(raw or b"{}"))
                writer.write(f"HTTP/1.1 {status} X\r\n".encode())
                for k, v in {**out_headers, "transfer-encoding": "chunked"}.items():
                    writer.write(f"{k}: {v}\r\n".encode())
                writer.write(b"\r\n")
                for p in pieces:
                    writer.write(f"{len(p):x}\r\n".encode() + p + b"\r\n")
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                if close:
                    # Close a moment later, as a real server does once its handler returns: a
                    # client that reused the connection at once has written into a dying socket.
                    await asyncio.sleep(CLOSE_DELAY_S)
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
