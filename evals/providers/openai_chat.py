"""OpenAI chat-completions through the official `openai` SDK.

Serves three runner kinds: `openai` (api.openai.com), `openai_compatible`
(vLLM, SGLang, TGI, Ollama, llama.cpp: the same SDK with a `base_url`) and
simulated runners that speak the OpenAI protocol. Always streams with
`stream_options.include_usage` so time to first token and token counts both
come from the server.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2
import openai

from evals.providers.base import Completion, GenerationParams, Message, Status, Timeouts, Usage
from evals.providers.errors import from_exception, stream_outcome, total_timeout

_FINISH_STATUS = {"stop": Status.ok, "tool_calls": Status.ok, "function_call": Status.ok, "length": Status.truncated, "content_filter": Status.refused}


class OpenAIChatProvider:
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
        self.timeouts = timeouts
        self.max_tokens_field = max_tokens_field
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            # Local servers (vLLM without --api-key) accept any key; the SDK insists on one.
            api_key=api_key or "no-key",
            max_retries=0,  # the executor owns retries, so every attempt is counted and stored
            timeout=httpx2.Timeout(timeouts.total_s, connect=timeouts.connect_s, read=timeouts.idle_s),
            http_client=openai.DefaultAioHttpClient(
                limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
            ),
        )

    def _request(self, messages: list[Message], params: GenerationParams) -> dict[str, Any]:
        req: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            self.max_tokens_field: params.max_tokens,
        }
        if self.stream:
            req["stream"] = True
            req["stream_options"] = {"include_usage": True}
        if params.temperature is not None:
            req["temperature"] = params.temperature
        if params.top_p is not None:
            req["top_p"] = params.top_p
        if params.seed is not None:
            req["seed"] = params.seed
        if params.stop:
            req["stop"] = params.stop
        if params.extra_body:
            req["extra_body"] = params.extra_body
        return req

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        if not self.stream:
            return await self._complete_whole(messages, params)
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        finish: str | None = None
        usage: Any = None
        served: str | None = None
        try:
            async with asyncio.timeout(self.timeouts.total_s):
                stream = await self._client.chat.completions.create(**self._request(messages, params))
                async with stream:
                    async for chunk in stream:
                        if chunk.usage is not None:
                            usage = chunk.usage
                        served = served or chunk.model
                        for choice in chunk.choices:
                            delta = choice.delta
                            piece = delta.content if delta is not None else None
                            if piece:
                                if first is None:
                                    first = time.perf_counter()
                                parts.append(piece)
                            if choice.finish_reason:
                                finish = choice.finish_reason
        except TimeoutError:
            return total_timeout(self.timeouts.total_s, started, first, "".join(parts))
        except Exception as exc:  # the SDK's and transport's failures become data
            c = from_exception(exc, sdk=openai, started=started, got_content=first is not None or finish is not None)
            c.text = "".join(parts)
            c.timing.ttft_ms = (first - started) * 1000 if first else None
            return c
        return self._finish(parts, finish, usage, served, started, first)

    async def _complete_whole(self, messages: list[Message], params: GenerationParams) -> Completion:
        """Non-streaming: for servers whose streams misbehave. No time to first token."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeouts.total_s):
                resp = await self._client.chat.completions.create(**self._request(messages, params))
        except TimeoutError:
            return total_timeout(self.timeouts.total_s, started, None)
        except Exception as exc:
            return from_exception(exc, sdk=openai, started=started, got_content=False)
        choice = resp.choices[0] if resp.choices else None
        text = (choice.message.content or "") if choice else ""
        c = self._finish([text], choice.finish_reason if choice else None, resp.usage, resp.model, started, None)
        return c

    def _finish(self, parts: list[str], finish: str | None, usage: Any, served: str | None, started: float, first: float | None) -> Completion:
        u = Usage()
        if usage is not None:
            pd = getattr(usage, "prompt_tokens_details", None)
            cd = getattr(usage, "completion_tokens_details", None)
            u = Usage(
                input_tokens=usage.prompt_tokens,
                cached_input_tokens=getattr(pd, "cached_tokens", None) if pd else None,
                output_tokens=usage.completion_tokens,
                reasoning_tokens=getattr(cd, "reasoning_tokens", None) if cd else None,
            )
        return stream_outcome(text="".join(parts), usage=u, finish=finish, statuses=_FINISH_STATUS, served=served, started=started, first=first, missing="a finish_reason")

    async def aclose(self) -> None:
        await self._client.close()
