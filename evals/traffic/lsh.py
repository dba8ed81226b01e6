"""Compact stores behind deduplication, sized for millions of distinct requests.

A Python dict or set costs about 100 bytes per entry, and datasketch's
MinHashLSH about 2 KB per indexed sketch; at a million distinct requests that
is gigabytes. Here keys live in sorted numpy arrays (12 bytes per key), with a
small dict in front that takes new keys and is merged in batches, and sketches
are kept at one byte per permutation.
"""

from __future__ import annotations

import numpy as np


class KeyIndex:
    """A map from 64-bit keys to 32-bit values, for keys that are written once."""

    def __init__(self, buffer_size: int = 1 << 16) -> None:
        self._buffer: dict[int, int] = {}
        self._buffer_size = buffer_size
        self._keys = np.empty(0, dtype=np.uint64)
        self._values = np.empty(0, dtype=np.uint32)

    def get(self, keys: list[int]) -> list[int | None]:
        """The value of each key, or None where it is absent."""
        out: list[int | None] = [self._buffer.get(k) for k in keys]
        if len(self._keys):
            wanted = np.array(keys, dtype=np.uint64)
            pos = np.searchsorted(self._keys, wanted)
            pos[pos == len(self._keys)] = 0
            hit = self._keys[pos] == wanted
            for i in np.flatnonzero(hit):
                out[i] = int(self._values[pos[i]])
        return out

    def put(self, key: int, value: int) -> None:
        """Store `value` under a key that `get` just reported absent (checking again would double the cost)."""
        self._buffer[key] = value
        if len(self._buffer) >= self._buffer_size:
            self._merge()

    def _merge(self) -> None:
        keys = np.fromiter(self._buffer.keys(), dtype=np.uint64, count=len(self._buffer))
        values = np.fromiter(self._buffer.values(), dtype=np.uint32, count=len(self._buffer))
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        at = np.searchsorted(self._keys, keys)
        self._keys = np.insert(self._keys, at, keys)
        self._values = np.insert(self._values, at, values)
        self._buffer.clear()


class Sketches:
    """MinHash signatures kept at one byte per permutation (b-bit minhash, b = 8).

    One byte per permutation estimates Jaccard similarity almost as well as 32
    bits (two different minima share their top byte 1 time in 256, which
    `similarity` corrects for) at a quarter of the memory. Rows live in
    fixed-size blocks, so growing never copies what is stored.
    """

    _BLOCK = 1 << 16

    def __init__(self, num_perm: int) -> None:
        self._num_perm = num_perm
        self._blocks: list[np.ndarray] = []
        self._n = 0

    @staticmethod
    def shrink(hashvalues: np.ndarray) -> np.ndarray:
        return (hashvalues >> 24).astype(np.uint8)

    def append(self, sketch: np.ndarray) -> int:
        if self._n == len(self._blocks) * self._BLOCK:
            self._blocks.append(np.empty((self._BLOCK, self._num_perm), dtype=np.uint8))
        self._blocks[-1][self._n % self._BLOCK] = sketch
        self._n += 1
        return self._n - 1

    def similarity(self, i: int, sketch: np.ndarray) -> float:
        """Estimated Jaccard similarity between stored sketch `i` and `sketch`."""
        row = self._blocks[i // self._BLOCK][i % self._BLOCK]
        agree = np.count_nonzero(row == sketch) / sketch.size
        return max(0.0, (agree - 1 / 256) / (1 - 1 / 256))


def choose_bands(threshold: float, num_perm: int, recall: float = 0.98) -> tuple[int, int]:
    """(bands, rows per band): the most rows per band that still finds `recall` of pairs at `threshold`.

    More rows per band means fewer false candidates to verify; the recall bound
    keeps true near-duplicates from slipping through. Candidates are verified
    against the stored sketch, so the threshold means what it says.
    """
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            best = (bands, rows)
    return best
