"""MinHash signatures and banded LSH, in numpy: small, stable across processes and versions, fast to import.

Why not ``datasketch``: importing it loads scipy (half a CPU second in every process: the crawler and each
extraction worker), and its values depend on its version's hashing scheme, while signatures persist in
the archive for years. The method is the same (Broder's MinHash, LSH banding as in Leskovec, Rajaraman
and Ullman, *Mining of Massive Datasets*, ch. 3):

- a shingle becomes a 64-bit BLAKE2b hash, reduced modulo the Mersenne prime ``P = 2**61 - 1``;
- permutation ``i`` is ``h_i(x) = (a_i * x + b_i) mod P`` with fixed ``a_i, b_i`` drawn once from
  ``SEED``; to stay exact in 64-bit integers, ``x`` and ``a_i`` are cut to 31 bits (products < 2**62);
- the signature is the minimum of each ``h_i`` over the shingles, as ``uint32``;
- ``band_keys`` hashes ``bands`` groups of ``rows`` consecutive values into bucket keys; two signatures
  are candidates when they share a bucket in at least one band (probability ``1 - (1 - J**rows)**bands`` for
  Jaccard ``J``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

NUM_PERM = 128
SEED = 20261201
_P31 = (1 << 31) - 1  # values and coefficients live below this prime: products fit 64 bits
_rng = np.random.default_rng(SEED)
_A = _rng.integers(1, _P31, size=(NUM_PERM, 1), dtype=np.int64)
_B = _rng.integers(0, _P31, size=(NUM_PERM, 1), dtype=np.int64)
_EMPTY = np.full(NUM_PERM, _P31, dtype=np.uint32)
_AU, _BU = _A.astype(np.uint64), _B.astype(np.uint64)
_PU, _S31 = np.uint64(_P31), np.uint64(31)


def _fold(v: np.ndarray) -> np.ndarray:
    """``v`` (uint64, in place) reduced towards ``v mod (2**31 - 1)``: ``2**31 = 1`` modulo the Mersenne
    prime, so ``v = (v & P) + (v >> 31)`` keeps the residue; two folds take any ``v < 2**64`` below
    ``P + 8``, and :func:`_mod` subtracts the last ``P``. Shifts and masks instead of numpy's integer
    division: the same values, a fraction of the time."""
    high = v >> _S31
    v &= _PU
    v += high
    high = v >> _S31
    v &= _PU
    v += high
    return v


def _mod(v: np.ndarray) -> np.ndarray:
    """``v mod (2**31 - 1)`` of uint64 values, in place."""
    _fold(v)
    np.subtract(v, _PU, out=v, where=v >= _PU)
    return v


def minhash(shingles: Iterable[bytes]) -> np.ndarray:
    """The ``NUM_PERM`` MinHash values (``uint32``) of a set of shingles; all ``2**31 - 1`` when empty."""
    # The digests joined and read as little-endian uint64 at once: the same values as int.from_bytes per
    # shingle, at a fraction of the Python work; then all permutations of all shingles at once.
    blake2b = hashlib.blake2b
    digests = b"".join([blake2b(s, digest_size=8).digest() for s in shingles])
    if not digests:
        return _EMPTY.copy()
    x = _mod(np.frombuffer(digests, dtype="<u8").astype(np.uint64))
    # a * x + b < 2**62 + 2**31: exact in uint64
    values = np.multiply(_AU, x[np.newaxis, :])
    values += _BU
    _fold(values)  # below P + 8, congruent: a value is its residue unless it is P or more
    # The minima of the folded values, then the rare row holding a value of P or more (its residue, < 8,
    # may be the row's least) taken again exactly: two reading passes instead of _mod's writing ones.
    low = values.min(axis=1)
    over = np.flatnonzero(values.max(axis=1) >= _PU)
    if over.size:
        low[over] = _mod(values[over]).min(axis=1)
    return low.astype(np.uint32)


def band_keys(values: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One ``uint64`` bucket key per LSH band: the band's ``rows`` consecutive values, mixed.

    Two signatures are candidates when they share a key in at least one band.
    """
    if bands * rows > NUM_PERM:
        raise ValueError(
            f"{bands} bands of {rows} rows need {bands * rows} values, signatures have {NUM_PERM}"
        )
    grid = values[: bands * rows].astype(np.uint64).reshape(bands, rows)
    keys = np.zeros(bands, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(rows):
            keys = keys * np.uint64(0x9E3779B97F4A7C15) + grid[:, column]
    return keys
