"""What the two SDK providers share: their HTTP pool, and what happens when a
server turns out to close connections it announced as keep-alive.

Each SDK (openai, anthropic) ships the same two transports, an aiohttp one for
speed and an httpx2 one; `sdk` is the SDK module, so one piece of code serves both.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httpx2

from evals.providers.base import Timeouts


def _timeout(t: Timeouts) -> httpx2.Timeout:
    return httpx2.Timeout(t.total_s, connect=t.connect_s, read=t.idle_s)


class SdkConnections:
    """An SDK client with a keep-alive pool (the SDK's aiohttp transport) that can be switched,
    once, to one connection per request when the server proves it closes them."""

    def __init__(self, sdk: ModuleType, client_class: Any, *, base_url: str | None, api_key: str | None, timeouts: Timeouts, max_connections: int) -> None:
        self._sdk = sdk
        self.timeouts = timeouts
        self.max_connections = max_connections
        self.reuses_connections = True
        self._retired: list[Any] = []
        self._client = client_class(
            base_url=base_url,
            # Local servers (vLLM without --api-key) accept any key; the SDK insists on one.
            api_key=api_key or "no-key",
            max_retries=0,  # the executor owns retries, so every attempt is counted and stored
            timeout=_timeout(timeouts),
            http_client=sdk.DefaultAioHttpClient(limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)),
        )

    def _stop_reusing_connections(self) -> None:
        """The server closes connections it announced as keep-alive: from now on every
        request of this endpoint opens its own connection (httpx2 with no keep-alive pool)."""
        if not self.reuses_connections:
            return
        self.reuses_connections = False
        self._retired.append(self._client)
        self._client = self._client.with_options(
            http_client=self._sdk.DefaultAsyncHttpxClient(
                limits=httpx2.Limits(max_connections=self.max_connections, max_keepalive_connections=0),
                timeout=_timeout(self.timeouts),
            )
        )

    async def aclose(self) -> None:
        for c in (*self._retired, self._client):
            await c.close()
