"""The named random streams of many seeds at once: the state each ``RngStreams(seed).get(name)``
generator starts in (``desim_iov.rng``), computed for every (seed, name) in one vectorised
pass, so that resetting a batch of episodes does not build hundreds of generators.

``RngStreams.get`` seeds ``PCG64(SeedSequence(entropy=seed, spawn_key=(crc32(name),)))``.
This module runs NumPy's SeedSequence algorithm (its hash-mixing of the entropy words into a
pool of four, then ``generate_state(4, uint64)``) on uint32 arrays and PCG64's seeding
(``pcg64_set_seed``: two steps of the 128-bit LCG) on Python integers; both are part of
NumPy's stable stream contract. tests/test_vector_twin.py holds the states equal to
RngStreams' for many seeds and names; :func:`generator` then loads a state into one reused
``Generator`` (the draws are NumPy's own).
"""

from __future__ import annotations

import zlib

import numpy as np

_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341
_M128 = (1 << 128) - 1


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


def stream_states(seeds: list[int], names: list[str]) -> list[list[dict]]:
    """``[i][j]``: the ``bit_generator.state`` of ``RngStreams(seeds[i]).get(names[j])``."""
    if not seeds or not names:
        return [[] for _ in seeds]
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
    res = []
    for row in out.tolist():
        res.append([_pcg64_state(v) for v in row])
    return res


def _pcg64_state(v: list[int]) -> dict:
    """pcg64_set_seed(seed = v[0:2], inc = v[2:4]) as a PCG64 state dict."""
    init = (v[0] << 64) | v[1]
    inc = (((v[2] << 64) | v[3]) << 1 | 1) & _M128
    state = inc & _M128  # state 0, one step: 0 * mult + inc
    state = ((state + init) * _PCG_MULT + inc) & _M128
    return {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0, "uinteger": 0}


def generator(state: dict, reuse: np.random.Generator | None = None) -> np.random.Generator:
    """A Generator in ``state`` (``reuse``'s bit generator reloaded when given)."""
    g = reuse if reuse is not None else np.random.Generator(np.random.PCG64(0))
    g.bit_generator.state = state
    return g
