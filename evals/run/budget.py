"""A dollar budget that stops new requests before it would be exceeded.

Each attempt reserves its worst case (all input tokens plus max_tokens of
output) before it is sent and settles to the real cost afterwards, so the
concurrent requests in flight can never overshoot the limit together.
"""

from __future__ import annotations


class Budget:
    def __init__(self, limit_usd: float | None) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self.reserved_usd = 0.0
        self.exhausted = False

    def try_reserve(self, worst_case_usd: float) -> bool:
        if self.limit_usd is None:
            return True
        if self.spent_usd + self.reserved_usd + worst_case_usd > self.limit_usd:
            self.exhausted = True
            return False
        self.reserved_usd += worst_case_usd
        return True

    def settle(self, reserved_usd: float, actual_usd: float) -> None:
        if self.limit_usd is not None:
            self.reserved_usd -= reserved_usd
        self.spent_usd += actual_usd
