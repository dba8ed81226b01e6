"""Drop repeated requests: exact repeats after normalising case and whitespace, and near repeats.

Near repeats are found with MinHash (datasketch) over word shingles and a
banded LSH index: each request is compared only with the earlier requests it
shares a band with, and a candidate counts as a repeat only when the estimated
Jaccard similarity reaches the threshold. Similarity is measured on the
conversation, and only between requests with the same context (system
prompt): a long shared system prompt would otherwise make every short
question look like every other, and the same question put to two different
products is two tasks. It streams: state grows by under 200 bytes per
distinct request (see `lsh`), never with the size of the input. The first
occurrence is kept, so results depend on input order only.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Literal

import numpy as np
from datasketch import MinHash

from evals.traffic.lsh import KeyIndex, Sketches, choose_bands

SHINGLE_WORDS = 3
NUM_PERM = 64
_SEED = 1
# Odd multipliers that combine the hashes of consecutive words into a shingle hash.
_MIX = (np.uint32(0x9E3779B1), np.uint32(0x85EBCA77))


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


class _WordHashes:
    """Deterministic 32-bit word hashes (CRC-32), memoised: traffic reuses a small vocabulary.

    Python's own `hash` would be faster but is salted per process, and the same
    input must give the same suite on every run.
    """

    def __init__(self, max_words: int = 200_000) -> None:
        self._memo: dict[str, int] = {}
        self._max = max_words

    def __call__(self, words: list[str]) -> list[int]:
        hashes = list(map(self._memo.get, words))
        if None in hashes:
            hashes = [self._miss(w) if h is None else h for w, h in zip(words, hashes)]
        return hashes  # type: ignore[return-value]

    def _miss(self, word: str) -> int:
        h = zlib.crc32(word.encode())
        if len(self._memo) < self._max:
            self._memo[word] = h
        return h


def _shingles(word_hashes: list[int]) -> list[int]:
    """32-bit hashes of the word 3-grams (one hash for the whole text when it is shorter)."""
    if len(word_hashes) < SHINGLE_WORDS:
        return [zlib.crc32(repr(word_hashes).encode())]
    h = np.array(word_hashes, dtype=np.uint32)
    with np.errstate(over="ignore"):
        return (h[:-2] * _MIX[0] + h[1:-1] * _MIX[1] + h[2:]).tolist()


class Deduper:
    """Says, for each text in turn, whether it repeats an earlier one; remembers it if not."""

    def __init__(self, near_threshold: float | None = 0.9) -> None:
        self._exact = KeyIndex()
        self._near_threshold = near_threshold
        if near_threshold is not None:
            self._word_hashes = _WordHashes()
            # One MinHash, reset per text: `update_batch` replaces `hashvalues` rather than
            # writing into it, so the empty values can be shared, and copying or constructing
            # a MinHash per request would cost as much as hashing it.
            self._minhash = MinHash(num_perm=NUM_PERM, seed=_SEED, hashfunc=int)
            self._empty = self._minhash.hashvalues
            self._bands, self._rows = choose_bands(near_threshold, NUM_PERM)
            self._band_index = KeyIndex()
            self._sketches = Sketches(NUM_PERM)
            rng = np.random.default_rng(_SEED)
            self._band_mix = rng.integers(1, 1 << 63, size=self._rows, dtype=np.uint64) | np.uint64(1)
            self._band_salt = rng.integers(0, 1 << 63, size=self._bands, dtype=np.uint64)

    @staticmethod
    def key(context: str, text: str) -> int:
        """The key under which (context, text) and its exact repeats are known."""
        return _hash64(f"{_hash64(normalise(context))}\x00{normalise(text)}")

    def check(self, context: str, text: str) -> Literal["exact", "near"] | None:
        """`exact` or `near` when (context, text) repeats an earlier pair, else None (and the pair is remembered)."""
        norm_context, norm = normalise(context), normalise(text)
        context_key = _hash64(norm_context)
        key = _hash64(f"{context_key}\x00{norm}")
        if self._exact.get([key])[0] is not None:
            return "exact"
        self._exact.put(key, 0)
        if self._near_threshold is None or not norm:
            return None
        return "near" if self._near(context_key, norm.split(" ")) else None

    def _near(self, context_key: int, words: list[str]) -> bool:
        self._minhash.hashvalues = self._empty
        self._minhash.update_batch(_shingles(self._word_hashes(words)))
        hv = self._minhash.hashvalues
        bands = hv[: self._bands * self._rows].astype(np.uint64).reshape(self._bands, self._rows)
        with np.errstate(over="ignore"):
            # The context's hash in every band key: only requests with the same context can collide.
            salt = self._band_salt + np.uint64(context_key)
            band_keys = ((bands * self._band_mix).sum(axis=1, dtype=np.uint64) + salt).tolist()
        sketch = Sketches.shrink(hv)
        threshold = self._near_threshold
        assert threshold is not None
        found = self._band_index.get(band_keys)
        for candidate in {c for c in found if c is not None}:
            if self._sketches.similarity(candidate, sketch) >= threshold:
                return True
        row = self._sketches.append(sketch)
        for k, c in zip(band_keys, found):
            if c is None:
                self._band_index.put(k, row)
        return False
