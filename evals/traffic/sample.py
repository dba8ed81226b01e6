"""Stratified, seeded sampling of a stream: every category keeps at least a minimum.

Each item gets a random priority from a seeded generator, and each category
keeps its lowest-priority items in a bounded heap (bottom-k sampling, the
reservoir method that allows choosing the sample size at the end). Once the
stream ends and category sizes are known, the sample is split across
categories in proportion to their size, but never below `min_per_category`
(or the whole category, when it is smaller), so a rare category with
20 requests out of a million still gets tested. The lowest priorities of a
category are a uniform random subset of it, so the sample is unbiased within
every category, and the same input and seed give the same sample.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from typing import Generic, TypeVar

T = TypeVar("T")


def allocate(sizes: dict[str, int], total: int, minimum: int) -> dict[str, int]:
    """How many items to take from each category.

    Each category first gets min(size, minimum); the rest of `total` is shared
    in proportion to size (largest remainders first), capped by size. When the
    minimums alone exceed `total`, the minimums win: losing a category is worse
    than a slightly larger sample.
    """
    take = {c: min(n, minimum) for c, n in sizes.items()}
    left = total - sum(take.values())
    while left > 0:
        room = {c: sizes[c] - take[c] for c in sizes if sizes[c] > take[c]}
        if not room:
            break
        weight = sum(sizes[c] for c in room)
        shares = {c: left * sizes[c] / weight for c in room}
        extra = {c: min(room[c], math.floor(s)) for c, s in shares.items()}
        if not any(extra.values()):
            # Fewer items left than categories with room: largest remainders (then names) first.
            for c in sorted(room, key=lambda c: (-(shares[c] - math.floor(shares[c])), c))[:left]:
                extra[c] = 1
        for c, k in extra.items():
            take[c] += k
        left -= sum(extra.values())
    return take


class StratifiedSampler(Generic[T]):
    """Keeps, per category, the items that could end up in a sample of `size` (and no more)."""

    def __init__(self, size: int, min_per_category: int, seed: int) -> None:
        self._size = size
        self._minimum = min_per_category
        self._cap = max(size, min_per_category)
        self._rng = random.Random(seed)
        self._heaps: dict[str, list[tuple[float, int, T]]] = {}
        self.seen: Counter[str] = Counter()
        """Items offered, per category."""

    def offer(self, category: str, item: T) -> None:
        n = self.seen[category]
        self.seen[category] += 1
        # Negated priority: heapq is a min-heap and the root must be the largest kept priority.
        entry = (-self._rng.random(), n, item)
        heap = self._heaps.setdefault(category, [])
        if len(heap) < self._cap:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)

    def result(self) -> dict[str, list[T]]:
        """The sample per category, each in the order the items arrived."""
        take = allocate(dict(self.seen), self._size, self._minimum)
        out: dict[str, list[T]] = {}
        for category, heap in sorted(self._heaps.items()):
            kept = sorted(heap, reverse=True)[: take[category]]
            out[category] = [item for _, _, item in sorted(kept, key=lambda e: e[1])]
        return out
