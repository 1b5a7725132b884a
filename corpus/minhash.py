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
    """Banded LSH over signatures: ``insert(key, values)``, ``query(values)`` -> candidate keys."""

    def __init__(self, bands: int, rows: int) -> None:
        if bands * rows > NUM_PERM:
            raise ValueError(
                f"{bands} bands of {rows} rows need {bands * rows} values, signatures have {NUM_PERM}"
            )
        self.bands = bands
        self.rows = rows
        self._tables: list[dict[bytes, list[str]]] = [{} for _ in range(bands)]

    def _keys(self, values: np.ndarray) -> list[bytes]:
        raw = np.ascontiguousarray(values[: self.bands * self.rows], dtype="<u4").tobytes()
        width = 4 * self.rows
        return [raw[i * width : (i + 1) * width] for i in range(self.bands)]

    def insert(self, key: str, values: np.ndarray) -> None:
        for table, bucket in zip(self._tables, self._keys(values), strict=True):
            table.setdefault(bucket, []).append(key)

    def query(self, values: np.ndarray) -> set[str]:
        found: set[str] = set()
        for table, bucket in zip(self._tables, self._keys(values), strict=True):
            found.update(table.get(bucket, ()))
        return found
