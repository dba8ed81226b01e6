"""OpenAI chat-completions through the official `openai` SDK.

Serves three runner kinds: `openai` (api.openai.com), `openai_compatible`
(vLLM, SGLang, TGI, Ollama, llama.cpp: the same SDK with a `base_url`) and
simulated runners that speak the OpenAI protocol. Always streams with
`stream_options.include_usage` so time to first token and token counts both
come from the server. The SDK's responses are read as the lean client reads
the wire (evals.providers.openai_wire); `evals.providers.stream.drive` times
the events and decides the status. Dumping a chunk to a dict for that costs
about 6 us (the SDK's own validation of it, 9 us): some 0.15 ms of the SDK
path's ~6 ms of CPU per streamed request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai

from evals.providers.base import Completion, GenerationParams, Message, Timeouts
from evals.providers.errors import from_exception, is_stale
from evals.providers.openai_wire import chunk_events, whole_events
from evals.providers.sdk_client import SdkConnections
from evals.providers.stream import Event, ServedModel, drive
from evals.providers.translate import OPENAI_FINISH_STATUS as _FINISH_STATUS
from evals.providers.translate import to_openai


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
            for ev in whole_events((await self._client.chat.completions.create(**req)).model_dump()):
                yield ev
            return
        stream = await self._client.chat.completions.create(**req)
        served = False
        async with stream:
            async for chunk in stream:
                for ev in chunk_events(chunk.model_dump(), served):
                    served = served or type(ev) is ServedModel
                    yield ev

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
