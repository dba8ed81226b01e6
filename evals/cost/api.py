"""What a hosted API charges for one request, from the usage the server reported.

Input tokens are split three ways because the provider bills them three
ways: tokens read from the prompt cache are cheap, tokens written to it
(Anthropic) cost more than plain input, and the rest are plain input. Output
tokens include hidden reasoning, which is billed as output.
"""

from __future__ import annotations

from evals.cost.catalogue import ApiPrice, LongContextRates
from evals.providers.base import Usage

PER_MILLION = 1_000_000


def request_cost(usage: Usage, prices: ApiPrice, batch: bool = False) -> float:
    """USD for one request.

    `usage.input_tokens` includes the cached and cache-written tokens (the
    Usage contract), so plain input is what remains after taking them out.
    Missing counts are zero. A rate the model lacks (no cached or write rate)
    falls back to the input rate, which is how such tokens are billed. A
    prompt longer than the model's long-context threshold bills the whole
    request at the long-context rates. In batch mode every rate is multiplied
    by the model's batch factor.
    """
    total_in = usage.input_tokens or 0
    cached = usage.cached_input_tokens or 0
    written = usage.cache_write_tokens or 0
    plain = total_in - cached - written
    if plain < 0:
        raise ValueError(
            f"usage says {cached} cached + {written} cache-written tokens but only {total_in} input tokens; "
            "input_tokens must include both (sum Anthropic's input, cache_read and cache_creation counts)"
        )
    rates: ApiPrice | LongContextRates = prices
    if prices.long_context is not None and total_in > prices.long_context.above_input_tokens:
        rates = prices.long_context
    cached_rate = rates.input if rates.cached_input is None else rates.cached_input
    write_rate = rates.input if rates.cache_write is None else rates.cache_write
    usd = (
        plain * rates.input
        + cached * cached_rate
        + written * write_rate
        + (usage.output_tokens or 0) * rates.output
    ) / PER_MILLION
    return usd * prices.batch_discount if batch else usd

