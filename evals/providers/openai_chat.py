"""OpenAI chat-completions through the official `openai` SDK.

Serves three runner kinds: `openai` (api.openai.com), `openai_compatible`
(vLLM, SGLang, TGI, Ollama, llama.cpp: the same SDK with a `base_url`) and
simulated runners that speak the OpenAI protocol. Always streams with
`stream_options.include_usage` so time to first token and token counts both
come from the server. This module only turns the protocol into stream events;
`evals.providers.stream.drive` times them and decides the status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai

from evals.providers.base import Completion, GenerationParams, Message, Timeouts, Usage
from evals.providers.errors import from_exception, is_stale
from evals.providers.sdk_client import SdkConnections
from evals.providers.stream import Event, Finish, ServedModel, TextDelta, ToolCallDelta, UsageReport, drive
from evals.providers.translate import OPENAI_FINISH_STATUS as _FINISH_STATUS
from evals.providers.translate import to_openai


def _usage(usage: Any) -> Usage:
    pd = getattr(usage, "prompt_tokens_details", None)
    cd = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=usage.prompt_tokens,
        cached_input_tokens=getattr(pd, "cached_tokens", None) if pd else None,
        output_tokens=usage.completion_tokens,
        reasoning_tokens=getattr(cd, "reasoning_tokens", None) if cd else None,
    )


class OpenAIChatProvider(SdkConnections):
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
        self.name = name
        self.stream = stream
        self.model = model
        self.base_url = base_url
        self.max_tokens_field = max_tokens_field
        super().__init__(openai, openai.AsyncOpenAI, base_url=base_url, api_key=api_key, timeouts=timeouts, max_connections=max_connections)

    def _request(self, messages: list[Message], params: GenerationParams) -> dict[str, Any]:
        """The sample's request as sent (tools, tool_choice, response_format and settings when `params` carries them)."""
        return to_openai(messages, params, model=self.model, max_tokens_field=self.max_tokens_field, stream=self.stream)

    async def events(self, messages: list[Message], params: GenerationParams) -> AsyncIterator[Event]:
        """One request as stream events; a whole (non-streamed) response yields the same events at once."""
        req = self._request(messages, params)
        if not self.stream:
            resp = await self._client.chat.completions.create(**req)
            if resp.model:
                yield ServedModel(resp.model)
            if resp.usage is not None:
                yield UsageReport(_usage(resp.usage))
            choice = resp.choices[0] if resp.choices else None
            if choice is not None:
                if choice.message.content:
                    yield TextDelta(choice.message.content)
                for i, tc in enumerate(choice.message.tool_calls or ()):
                    fn = getattr(tc, "function", None)
                    yield ToolCallDelta(i, tc.id, getattr(fn, "name", None), getattr(fn, "arguments", None) or "")
                if choice.finish_reason:
                    yield Finish(choice.finish_reason)
            return
        stream = await self._client.chat.completions.create(**req)
        async with stream:
            async for chunk in stream:
                if chunk.model:
                    yield ServedModel(chunk.model)
                if chunk.usage is not None:
                    yield UsageReport(_usage(chunk.usage))
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta is not None:
                        if delta.content:
                            yield TextDelta(delta.content)
                        for tc in delta.tool_calls or ():
                            fn = tc.function
                            yield ToolCallDelta(tc.index, tc.id, fn.name if fn else None, (fn.arguments if fn else None) or "")
                    if choice.finish_reason:
                        yield Finish(choice.finish_reason)

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        return await drive(
            lambda: self.events(messages, params),
            timeouts=self.timeouts,
            statuses=_FINISH_STATUS,
            classify=lambda exc, got: from_exception(exc, sdk=openai, got_content=got, base_url=self.base_url),
            streamed=self.stream,
            missing="a finish_reason",
            is_stale=is_stale,
            on_stale=self._stop_reusing_connections,
        )
