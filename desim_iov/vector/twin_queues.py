"""The caches' queues of batched twin-migration slot episodes after the decisions (part of
:class:`desim_iov.vector.twin_slot.TwinSlotBatch`): each tick's background batch
(``desim_iov.servers.EdgeServers.add_background``) and the slot's data joining the hosts'
caches (``TwinMigrationApp.slot_arrivals``, ``desim_iov.queues.WorkQueue.admit``), with the
same floating-point operations as the scalar slot fidelity, vectorised over the episodes.

The state read and written is the batch's: ``work``, ``qt`` (N, M) (WorkQueue.work and .t,
C-contiguous), ``mu`` (N, M), ``cache`` (M,), ``bg`` (N, K, M), ``k``, ``done``, ``drives``.
"""

from __future__ import annotations

import numpy as np


class SlotQueues:
    """Mixin of :class:`~desim_iov.vector.twin_slot.TwinSlotBatch`: the queues' updates."""

    def _background(self, sel: np.ndarray) -> None:
        """EdgeServers.add_background at the tick of episodes ``sel``: the batch joins the
        caches, at most L_max each."""
        if not self.bg_active or not sel.any():
            return
        if sel.all():  # in place, the same operations
            t = self.t[self.k][:, None]
            load = np.subtract(t, self.qt)
            np.multiply(self.mu, load, out=load)
            np.maximum(np.subtract(self.work, load, out=load), 0.0, out=load)
            load += self.bg.reshape(-1, self.M)[self._e * self.K + self.k]  # rows (episode, tick)
            np.minimum(load, self.cache, out=self.work)
            self.qt[...] = t
            return
        e = np.flatnonzero(sel)
        k = self.k[e]
        t = self.t[k][:, None]
        load = np.maximum(self.work[e] - self.mu[e] * (t - self.qt[e]), 0.0)
        load += self.bg.reshape(-1, self.M)[e * self.K + k]  # rows (episode, tick)
        self.work[e] = np.minimum(load, self.cache, out=load)
        self.qt[e] = t

    def _arrivals(self, assign: np.ndarray, reach: np.ndarray) -> None:
        """TwinMigrationApp.slot_arrivals: each acting vehicle's S_v joins its host's cache in
        vehicle order (WorkQueue.admit), refused when it does not fit; an unreachable host
        loses it; data refused by an RSU/UAV goes to the satellite (Eq. 9) where it fits there.
        All requests are S_v bits, so serving the satellite's direct requests first and the
        overflow after them leaves its queue as the interleaved order does."""
        t = self.t[np.minimum(self.k, self.K - 1)][:, None]
        m = np.maximum(assign, 0)
        ask = (assign >= 0) & reach
        refused = self._admit(ask, m, t)
        if self.overflow and refused.any():
            self._admit(refused & (m != self.sat), np.full_like(m, self.sat), t)

    def _admit(self, ask: np.ndarray, m: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Requests of S_v bits to servers ``m`` (N, V) where ``ask``, served in vehicle order
        as WorkQueue.admit serves them one by one; returns the refused requests."""
        b, t = self.slot_bits, t[:, 0]
        work, qt, mu = self.work.reshape(-1), self.qt.reshape(-1), self.mu.reshape(-1)  # views
        cells, cap = self._em + m, self.cache[m]
        ok = np.zeros_like(ask)
        for v in range(ask.shape[1]):  # one request per episode at a time (distinct cells)
            c = cells[:, v]
            w_c, t_c = work[c], qt[c]
            after = np.maximum(w_c - mu[c] * (t - t_c), 0.0) + b
            ok[:, v] = ok_v = ask[:, v] & ~(after > cap[:, v])
            work[c], qt[c] = np.where(ok_v, after, w_c), np.where(ok_v, t, t_c)
        return ask & ~ok

    def _skip_idle_ticks(self, sel: np.ndarray) -> None:
        """Advance episodes ``sel`` over ticks without a driving vehicle (background only);
        an episode past its last tick is done."""
        sel = sel.copy()
        while True:
            past = sel & (self.k >= self.K)
            self.done |= past
            sel &= ~past
            idle = sel & ~self.drives[np.arange(self.n), np.minimum(self.k, self.K - 1)].any(axis=1)
            if not idle.any():
                return
            self._background(idle)
            self.k = np.where(idle, self.k + 1, self.k)
