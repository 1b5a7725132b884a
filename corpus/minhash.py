"""MinHash signatures and banded LSH, in numpy: small, stable across processes and versions, fast to import.

Why not ``datasketch``: importing it loads scipy (half a CPU second in every process: the crawler and each
extraction worker), and its values depend on its version's hashing scheme, while signatures persist in
the archive for years. The method is the same (Broder's MinHash, LSH banding as in Leskovec, Rajaraman
and Ullman, *Mining of Massive Datasets*, ch. 3):

- a shingle becomes a 64-bit BLAKE2b hash, reduced modulo the Mersenne prime ``P = 2**61 - 1``;
- permutation ``i`` is ``h_i(x) = (a_i * x + b_i) mod P`` with fixed ``a_i, b_i`` drawn once from
  ``SEED``; to stay exact in 64-bit integers, ``x`` and ``a_i`` are cut to 31 bits (products < 2**62);
- the signature is the minimum of each ``h_i`` over the shingles, as ``uint32``;
- ``BandIndex`` hashes ``bands`` groups of ``rows`` consecutive values into buckets; two signatures are
  candidates when they share a bucket in at least one band (probability ``1 - (1 - J**rows)**bands`` for
  Jaccard ``J``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

NUM_PERM = 128
SEED = 20261201
_P31 = (1 << 31) - 1  # values and coefficients live below this prime: products fit int64
_rng = np.random.default_rng(SEED)
_A = _rng.integers(1, _P31, size=(NUM_PERM, 1), dtype=np.int64)
_B = _rng.integers(0, _P31, size=(NUM_PERM, 1), dtype=np.int64)
_EMPTY = np.full(NUM_PERM, _P31, dtype=np.uint32)


def minhash(shingles: Iterable[bytes]) -> np.ndarray:
    """The ``NUM_PERM`` MinHash values (``uint32``) of a set of shingles; all ``2**31 - 1`` when empty."""
    hashes = [int.from_bytes(hashlib.blake2b(s, digest_size=8).digest(), "little") % _P31 for s in shingles]
    if not hashes:
        return _EMPTY.copy()
    x = np.asarray(hashes, dtype=np.int64)[np.newaxis, :]
    return ((_A * x + _B) % _P31).min(axis=1).astype(np.uint32)


class BandIndex:
    """Banded LSH over signatures: ``insert(doc, values)`` (``doc`` an int), ``query(values)`` -> docs.

    Compact: each band keeps its bucket keys (``uint64``) in a sorted array with the documents beside it,
    looked up by binary search, plus a small unsorted buffer of recent inserts merged in every
    ``buffer`` documents; about 400 bytes a document, where a dict of buckets takes several KB.
    """

    def __init__(self, bands: int, rows: int, *, buffer: int = 4096) -> None:
        if bands * rows > NUM_PERM:
            raise ValueError(
                f"{bands} bands of {rows} rows need {bands * rows} values, signatures have {NUM_PERM}"
            )
        self.bands = bands
        self.rows = rows
        self._keys = np.empty((bands, 0), dtype=np.uint64)  # per band, sorted
        self._docs = np.empty((bands, 0), dtype=np.int64)  # per band, in the order of _keys
        self._buffer_keys = np.empty((buffer, bands), dtype=np.uint64)
        self._buffer_docs = np.empty(buffer, dtype=np.int64)
        self._buffered = 0

    def __len__(self) -> int:
        return int(self._keys.shape[1]) + self._buffered

    def band_keys(self, values: np.ndarray) -> np.ndarray:
        """One ``uint64`` bucket key per band: its ``rows`` values, mixed."""
        grid = values[: self.bands * self.rows].astype(np.uint64).reshape(self.bands, self.rows)
        keys = np.zeros(self.bands, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for column in range(self.rows):
                keys = keys * np.uint64(0x9E3779B97F4A7C15) + grid[:, column]
        return keys

    def insert(self, doc: int, values: np.ndarray) -> None:
        if self._buffered == len(self._buffer_docs):
            self._merge()
        self._buffer_keys[self._buffered] = self.band_keys(values)
        self._buffer_docs[self._buffered] = doc
        self._buffered += 1

    def _merge(self) -> None:
        n = self._buffered
        keys = np.concatenate([self._keys, self._buffer_keys[:n].T], axis=1)
        docs = np.concatenate([self._docs, np.broadcast_to(self._buffer_docs[:n], (self.bands, n))], axis=1)
        order = np.argsort(keys, axis=1, kind="stable")
        self._keys = np.take_along_axis(keys, order, axis=1)
        self._docs = np.take_along_axis(docs, order, axis=1)
        self._buffered = 0

    def query(self, values: np.ndarray) -> set[int]:
        keys = self.band_keys(values)
        found: set[int] = set()
        if self._buffered:
            hits = (self._buffer_keys[: self._buffered] == keys).any(axis=1)
            found.update(int(d) for d in self._buffer_docs[: self._buffered][hits])
        if self._keys.shape[1]:
            for band in range(self.bands):
                row = self._keys[band]
                lo = int(np.searchsorted(row, keys[band], side="left"))
                hi = int(np.searchsorted(row, keys[band], side="right"))
                if hi > lo:
                    found.update(int(d) for d in self._docs[band, lo:hi])
        return found
