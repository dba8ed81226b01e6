"""Anthropic Messages through the official `anthropic` SDK, streaming.

The chat messages of a sample are OpenAI-shaped ({role, content}); system
messages move to the `system` parameter, as the Messages API requires. This
module only turns the protocol into stream events; `evals.providers.stream.drive`
times them and decides the status.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic

from evals.providers.base import Completion, GenerationParams, Message, Status, Timeouts, Usage
from evals.providers.errors import from_exception, is_stale
from evals.providers.sdk_client import SdkConnections
from evals.providers.stream import Event, Finish, ServedModel, TextDelta, ToolCallDelta, UsageReport, drive
from evals.providers.translate import Unsupported, to_anthropic

_STOP_STATUS = {
    "end_turn": Status.ok,
    "stop_sequence": Status.ok,
    "tool_use": Status.ok,
    "pause_turn": Status.ok,
    "max_tokens": Status.truncated,
    "model_context_window_exceeded": Status.truncated,
    "refusal": Status.refused,
}


class AnthropicProvider(SdkConnections):
    def __init__(self, *, name: str, model: str, base_url: str | None, api_key: str | None, timeouts: Timeouts, max_connections: int = 1000, stream: bool = True) -> None:
        super().__init__(anthropic, anthropic.AsyncAnthropic, base_url=base_url, api_key=api_key, timeouts=timeouts, max_connections=max_connections)
        self.name = name
        self.stream = stream
        self.model = model
        self.base_url = base_url

    def _request(self, messages: list[Message], params: GenerationParams) -> dict[str, Any]:
        """The sample's request in Messages form; `Unsupported` when it cannot be sent unchanged.
        The Messages API of SDK 2.x takes no temperature/top_p/seed (current models fix their
        sampling); a model that still accepts them gets them through `extra_body`."""
        return to_anthropic(messages, params, model=self.model, stream=self.stream)

    async def events(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[Event]:
        """One request as stream events; a whole (non-streamed) response yields the same events at once."""
        req = self._request(messages, params)
        if not self.stream:
            msg = await self._client.messages.create(**req)
            mu = msg.usage
            yield ServedModel(msg.model)
            yield UsageReport(_usage({"input_tokens": mu.input_tokens, "cache_read": mu.cache_read_input_tokens, "cache_write": mu.cache_creation_input_tokens, "output_tokens": mu.output_tokens}))
            for i, b in enumerate(msg.content):
                if b.type == "text" and b.text:
                    yield TextDelta(b.text)
                elif b.type == "tool_use":
                    yield ToolCallDelta(i, b.id, b.name, json.dumps(b.input))
            if msg.stop_reason:
                yield Finish(msg.stop_reason)
            return
        usage: dict[str, int | None] = {}
        stop_reason: str | None = None
        stream = await self._client.messages.create(**req)
        async with stream:
            async for event in stream:
                et = event.type
                if et == "content_block_delta":
                    d = event.delta
                    if d.type == "text_delta" and d.text:
                        yield TextDelta(d.text)
                    elif d.type == "input_json_delta":
                        yield ToolCallDelta(event.index, arguments=d.partial_json)
                elif et == "content_block_start":
                    b = event.content_block
                    if b.type == "tool_use":
                        yield ToolCallDelta(event.index, b.id, b.name)
                elif et == "message_start":
                    m = event.message
                    yield ServedModel(m.model)
                    mu = m.usage
                    usage.update(input_tokens=mu.input_tokens, cache_read=mu.cache_read_input_tokens, cache_write=mu.cache_creation_input_tokens, output_tokens=mu.output_tokens)
                    yield UsageReport(_usage(usage))
                elif et == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    if event.usage is not None and event.usage.output_tokens is not None:
                        usage["output_tokens"] = event.usage.output_tokens
                        yield UsageReport(_usage(usage))
                elif et == "message_stop" and stop_reason:
                    # Only the closing event makes the stream whole; a stop_reason alone is not enough.
                    yield Finish(stop_reason)

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        try:
            self._request(messages, params)
        except Unsupported as e:  # this sample's request, not the endpoint, is at fault: never retried
            return Completion(status=Status.error, error=f"request not sent: {e}", error_kind="bad_request")
        return await drive(
            lambda: self.events(messages, params),
            timeouts=self.timeouts,
            statuses=_STOP_STATUS,
            classify=lambda exc, got: from_exception(exc, sdk=anthropic, got_content=got, base_url=self.base_url),
            streamed=self.stream,
            missing="message_stop with a stop_reason",
            is_stale=is_stale,
            on_stale=self._stop_reusing_connections,
        )


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
