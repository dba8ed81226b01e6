"""Anthropic Messages through the official `anthropic` SDK, streaming.

The chat messages of a sample are OpenAI-shaped ({role, content}); system
messages move to the `system` parameter, as the Messages API requires.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import httpx2

from evals.providers.base import Completion, GenerationParams, Message, Status, Timeouts, Usage
from evals.providers.errors import from_exception, stream_outcome, timing, total_timeout
from evals.suite.sample import content_text

_STOP_STATUS = {
    "end_turn": Status.ok,
    "stop_sequence": Status.ok,
    "tool_use": Status.ok,
    "pause_turn": Status.ok,
    "max_tokens": Status.truncated,
    "model_context_window_exceeded": Status.truncated,
    "refusal": Status.refused,
}


def split_system(messages: list[Message]) -> tuple[str | None, list[Message]]:
    system = [m["content"] for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    text = "\n\n".join(content_text(c) for c in system)
    return (text or None), rest


class AnthropicProvider:
    def __init__(self, *, name: str, model: str, base_url: str | None, api_key: str | None, timeouts: Timeouts, max_connections: int = 1000, stream: bool = True) -> None:
        self.name = name
        self.stream = stream
        self.model = model
        self.base_url = base_url
        self.timeouts = timeouts
        self._client = anthropic.AsyncAnthropic(
            base_url=base_url,
            api_key=api_key or "no-key",
            max_retries=0,
            timeout=httpx2.Timeout(timeouts.total_s, connect=timeouts.connect_s, read=timeouts.idle_s),
            http_client=anthropic.DefaultAioHttpClient(
                limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
            ),
        )

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        system, rest = split_system(messages)
        req: dict[str, Any] = {"model": self.model, "messages": rest, "max_tokens": params.max_tokens}
        if system:
            req["system"] = system
        # The Messages API of SDK 2.x takes no temperature/top_p (current models fix their
        # sampling); a model that still accepts them gets them through `extra_body`.
        if params.stop:
            req["stop_sequences"] = params.stop
        if params.extra_body:
            req["extra_body"] = params.extra_body
        if not self.stream:
            return await self._complete_whole(req)
        req["stream"] = True
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        stop_reason: str | None = None
        done = False
        usage: dict[str, int | None] = {}
        served: str | None = None
        try:
            async with asyncio.timeout(self.timeouts.total_s):
                stream = await self._client.messages.create(**req)
                async with stream:
                    async for event in stream:
                        et = event.type
                        if et == "content_block_delta":
                            d = event.delta
                            if d.type == "text_delta" and d.text:
                                if first is None:
                                    first = time.perf_counter()
                                parts.append(d.text)
                        elif et == "message_start":
                            m = event.message
                            served = m.model
                            mu = m.usage
                            usage.update(
                                input_tokens=mu.input_tokens,
                                cache_read=mu.cache_read_input_tokens,
                                cache_write=mu.cache_creation_input_tokens,
                                output_tokens=mu.output_tokens,
                            )
                        elif et == "message_delta":
                            stop_reason = event.delta.stop_reason or stop_reason
                            if event.usage is not None and event.usage.output_tokens is not None:
                                usage["output_tokens"] = event.usage.output_tokens
                        elif et == "message_stop":
                            done = True
        except TimeoutError:
            return total_timeout(self.timeouts.total_s, started, first, "".join(parts))
        except Exception as exc:
            c = from_exception(exc, sdk=anthropic, started=started, got_content=first is not None or bool(usage))
            c.text = "".join(parts)
            return c
        return stream_outcome(
            text="".join(parts), usage=_usage(usage), finish=stop_reason if done else None, statuses=_STOP_STATUS, served=served, started=started, first=first, missing="message_stop"
        )

    async def _complete_whole(self, req: dict[str, Any]) -> Completion:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeouts.total_s):
                msg = await self._client.messages.create(**req)
        except TimeoutError:
            return total_timeout(self.timeouts.total_s, started, None)
        except Exception as exc:
            return from_exception(exc, sdk=anthropic, started=started, got_content=False)
        mu = msg.usage
        u = _usage({"input_tokens": mu.input_tokens, "cache_read": mu.cache_read_input_tokens, "cache_write": mu.cache_creation_input_tokens, "output_tokens": mu.output_tokens})
        text = "".join(b.text for b in msg.content if b.type == "text")
        status = _STOP_STATUS.get(msg.stop_reason or "", Status.ok)
        return Completion(status=status, text=text, finish_reason=msg.stop_reason, usage=u, timing=timing(started, None, u.output_tokens), served_model=msg.model)

    async def aclose(self) -> None:
        await self._client.close()


def _usage(u: dict[str, int | None]) -> Usage:
    """Anthropic's input_tokens excludes cache reads and writes; ours includes them."""
    if not u:
        return Usage()
    base = u.get("input_tokens") or 0
    read = u.get("cache_read") or 0
    write = u.get("cache_write") or 0
    return Usage(
        input_tokens=base + read + write,
        cached_input_tokens=read,
        cache_write_tokens=write,
        output_tokens=u.get("output_tokens"),
    )
