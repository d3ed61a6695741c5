"""The named random streams of many seeds at once: the state each ``RngStreams(seed).get(name)``
generator starts in (``desim_iov.rng``), and the first outputs of many streams, computed in
vectorised passes, so that resetting a batch of episodes does not build hundreds of
generators.

``RngStreams.get`` seeds ``PCG64(SeedSequence(entropy=seed, spawn_key=(crc32(name),)))``.
This module runs NumPy's SeedSequence algorithm (its hash-mixing of the entropy words into a
pool of four, then ``generate_state(4, uint64)``) on uint32 arrays, and PCG64 (the 128-bit
LCG, two uint64 halves, and its XSL-RR output) on uint64 arrays; both are part of NumPy's
stable stream contract. Of the Generator's methods, :meth:`Streams.doubles` reproduces
``random`` (``(x >> 11) * 2**-53``) and :meth:`Streams.first_integers` ``integers(n)``
(Lemire's multiply on the first 32-bit half; NumPy draws itself in the rare case where
Lemire's method would redraw); anything else loads the state into a ``Generator``
(:meth:`Streams.generator`). tests/test_vector_twin.py holds all of it equal to RngStreams'
generators.
"""

from __future__ import annotations

import zlib

import numpy as np

_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_MULT_HI, _MULT_LO = np.uint64(2549297995355413924), np.uint64(4865540595714422341)
_M32, _S32 = np.uint64(0xFFFFFFFF), np.uint64(32)


def _words(x: int) -> list[int]:
    """SeedSequence's uint32 words of a non-negative int (little-endian; 0 is one word)."""
    out = [x & 0xFFFFFFFF]
    x >>= 32
    while x:
        out.append(x & 0xFFFFFFFF)
        x >>= 32
    return out


class _Hash:
    """SeedSequence's hashmix with its running multiplier, on uint32 arrays."""

    def __init__(self, init: int, mult: int) -> None:
        self.c = np.uint32(init)
        self.mult = np.uint32(mult)

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = value ^ self.c
        self.c = np.uint32((int(self.c) * int(self.mult)) & 0xFFFFFFFF)
        value = value * self.c
        return value ^ (value >> np.uint32(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
    return r ^ (r >> np.uint32(16))


def _mulhi(a: np.ndarray, b: np.uint64) -> np.ndarray:
    """The upper 64 bits of the 128-bit products a * b (uint64)."""
    a0, a1 = a & _M32, a >> _S32
    b0, b1 = b & _M32, b >> _S32
    p01, p10 = a0 * b1, a1 * b0
    mid = ((a0 * b0) >> _S32) + (p01 & _M32) + (p10 & _M32)
    return a1 * b1 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)


def _step(hi, lo, inc_hi, inc_lo):
    """One step of the 128-bit LCG, state * mult + inc (mod 2**128), on uint64 halves."""
    lo_m = lo * _MULT_LO
    hi_m = hi * _MULT_LO + lo * _MULT_HI + _mulhi(lo, _MULT_LO)
    new_lo = lo_m + inc_lo
    carry = (new_lo < lo_m).astype(np.uint64)
    return hi_m + inc_hi + carry, new_lo


def _output(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """PCG64's XSL-RR output of a state: rotr64(hi ^ lo, hi >> 58)."""
    x = hi ^ lo
    rot = hi >> np.uint64(58)
    return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


class Streams:
    """The PCG64 states of ``RngStreams(seed).get(name)`` for every seed x name: uint64
    arrays (B, S) ``hi``, ``lo`` (the state) and ``inc_hi``, ``inc_lo``."""

    def __init__(self, seeds: list[int], names: list[str]) -> None:
        B, S = len(seeds), len(names)
        v = _seed_words(seeds, names) if B and S else np.zeros((B, S, 4), np.uint64)
        with np.errstate(over="ignore"):
            one = np.uint64(1)
            # pcg64_set_seed(seed = v[0:2], inc = v[2:4]): inc = (v2:v3 << 1) | 1; the state
            # steps from 0 (giving inc), adds the seed, and steps again
            self.inc_hi = (v[..., 2] << one) | (v[..., 3] >> np.uint64(63))
            self.inc_lo = (v[..., 3] << one) | one
            lo = self.inc_lo + v[..., 1]
            hi = self.inc_hi + v[..., 0] + (lo < self.inc_lo).astype(np.uint64)
            self.hi, self.lo = _step(hi, lo, self.inc_hi, self.inc_lo)
        self._gen = np.random.Generator(np.random.PCG64(0))

    def state(self, i: int, j: int) -> tuple[int, int]:
        """The 128-bit (state, inc) of stream (i, j) as Python integers."""
        return ((int(self.hi[i, j]) << 64) | int(self.lo[i, j]),
                (int(self.inc_hi[i, j]) << 64) | int(self.inc_lo[i, j]))

    def generator(self, i: int, j: int, reuse: bool = True) -> np.random.Generator:
        """A Generator at the start of stream (i, j) (one reloaded object when ``reuse``)."""
        st, inc = self.state(i, j)
        g = self._gen if reuse else np.random.Generator(np.random.PCG64(0))
        g.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": st, "inc": inc},
                                 "has_uint32": 0, "uinteger": 0}
        return g

    def outputs(self, cols: slice | list[int], n: int) -> np.ndarray:
        """(B, len(cols), n) the first n uint64 outputs of the streams ``cols``."""
        hi, lo = self.hi[:, cols], self.lo[:, cols]
        ih, il = self.inc_hi[:, cols], self.inc_lo[:, cols]
        out = np.empty(hi.shape + (n,), np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                hi, lo = _step(hi, lo, ih, il)
                out[..., k] = _output(hi, lo)
        return out

    def doubles(self, cols: slice | list[int], n: int) -> np.ndarray:
        """(B, len(cols), n): ``Generator.random(n)`` of the streams ``cols`` (next_double)."""
        return (self.outputs(cols, n) >> np.uint64(11)) * (1.0 / 9007199254740992.0)

    def first_integers(self, cols: slice | list[int], n: int) -> np.ndarray:
        """(B, len(cols)): ``Generator.integers(n)`` (0 < n < 2**32) of the streams ``cols``
        from their first output's low 32 bits (Lemire's method); NumPy draws where Lemire's
        method would redraw (probability below n / 2**32)."""
        idx = np.arange(self.hi.shape[1])[cols]
        x = self.outputs(cols, 1)[..., 0] & _M32
        m = x * np.uint64(n)
        out = (m >> _S32).astype(np.int64)
        for i, c in zip(*np.nonzero((m & _M32) < np.uint64(n)), strict=True):  # maybe below the threshold
            out[i, c] = int(self.generator(int(i), int(idx[c])).integers(n))
        return out


def _seed_words(seeds: list[int], names: list[str]) -> np.ndarray:
    """(B, S, 4) uint64: ``SeedSequence(entropy=seed, spawn_key=(crc32(name),))
    .generate_state(4, np.uint64)`` for every seed and name."""
    keys = [zlib.crc32(n.encode("utf-8")) for n in names]
    words = [_words(int(s)) for s in seeds]
    n_run = max(_POOL, max(len(w) for w in words))
    run = np.zeros((len(seeds), n_run), np.uint32)
    for i, w in enumerate(words):  # run entropy padded to the pool with zeros (spawn key given)
        run[i, : len(w)] = w
    # SeedSequence.mix_entropy over [run words..., key] for every (seed, name); seeds with
    # fewer words than the longest have zeros where the longest has words: group by length
    out = np.zeros((len(seeds), len(names), 4), np.uint64)
    lens = np.array([max(_POOL, len(w)) for w in words])
    for n_words in np.unique(lens).tolist():
        rows = np.flatnonzero(lens == n_words)
        ent = np.concatenate([np.repeat(run[rows, :n_words, None], len(names), axis=2),
                              np.broadcast_to(np.asarray(keys, np.uint32), (len(rows), 1, len(names)))],
                             axis=1)  # (r, words + 1, names)
        ent = ent.transpose(0, 2, 1).reshape(-1, n_words + 1)
        with np.errstate(over="ignore"):
            h = _Hash(_INIT_A, _MULT_A)
            pool = [h(ent[:, i]) for i in range(_POOL)]
            for src in range(_POOL):
                for dst in range(_POOL):
                    if src != dst:
                        pool[dst] = _mix(pool[dst], h(pool[src]))
            for src in range(_POOL, n_words + 1):
                for dst in range(_POOL):
                    pool[dst] = _mix(pool[dst], h(ent[:, src]))
            g = _Hash(_INIT_B, _MULT_B)
            st = np.stack([g(pool[i % _POOL]) for i in range(8)], axis=1).astype("<u4")
        out[rows] = st.view("<u8").astype(np.uint64).reshape(len(rows), len(names), 4)
    return out
