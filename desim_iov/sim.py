"""One run: wiring and run control. Everything that happens lives in its own module:

- ``world`` (nodes and trajectories), ``radio`` (gains and rates per mobility step),
  ``servers`` (queues, background, overflow), ``twins`` (the workload forecaster);
- ``apps`` (what the network is used for: traffic, agents, observations, masks, actions,
  objective terms, trace datasets), ``decisions`` (epochs, external control),
  ``fidelity`` (packet events or per-slot formulas), ``recorder`` (the trace).

The clock process ticks every ``fidelity.tick``: it moves the nodes (radio), lets the fidelity
add background work, runs a decision epoch on slot boundaries, samples the trace, and flushes
it regularly. While the kernel runs, CPython's cyclic collector runs on a timer instead of on
allocations (``collector``: its passes would otherwise cost more per packet the more packets
are in flight). See docs/ARCHITECTURE.md for the data flow and docs/MODEL.md for the model.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import simpy

from desim_iov import __version__
from desim_iov.apps import app_class
from desim_iov.build import build_world
from desim_iov.collector import PeriodicCollection, paused
from desim_iov.config import Scenario
from desim_iov.decisions import DecisionProcess, PolicyError
from desim_iov.fidelity import FIDELITIES
from desim_iov.kinds import POSITION_UAV
from desim_iov.radio import Radio
from desim_iov.recorder import NullRecorder, Recorder
from desim_iov.rng import RngStreams
from desim_iov.servers import EdgeServers
from desim_iov.twins import make_forecaster
from models.mobility import Trajectory
from traces.schema import DTYPES


class Simulation:
    """One run of one scenario under one policy (``policy`` None: external control through
    :meth:`advance`/:meth:`act`).

    ``trace_path`` None runs without a trace (RL training, kernel tests); the CLI always
    writes one. ``vehicle_trajectories`` replaces the scenario's mobility model (recorded
    traces, tests). ``provenance`` adds root attributes to the trace. ``gc_interval``: while the
    kernel runs, the automatic cyclic-collector passes are paused and a full collection runs
    every that many wall-clock seconds (``desim_iov/collector.py``); None leaves the
    interpreter's collector as it is.

    Public parts: ``scenario``, ``env``, ``streams``, ``world``, ``radio``, ``servers``,
    ``forecaster``, ``app``, ``recorder``, ``decisions``, ``fidelity``."""

    def __init__(
        self,
        scenario: Scenario,
        policy: Any,
        *,
        trace_path: str | None = None,
        vehicle_trajectories: Sequence[Trajectory] | None = None,
        provenance: dict[str, Any] | None = None,
        env: simpy.Environment | None = None,
        gc_interval: float | None = 60.0,
    ) -> None:
        s = self.scenario = scenario
        self.env = env or simpy.Environment()
        self.streams = RngStreams(s.seed)
        self.world = build_world(s, self.streams, vehicle_trajectories)
        self.policy = policy
        try:
            if policy is not None:
                policy.reset(self.streams.get("policy"))
            self.fidelity = FIDELITIES[s.fidelity]
            app_cls = app_class(s.app)
            self.recorder = self._recorder(trace_path, app_cls, provenance or {})
        except BaseException:
            self.world.close()  # a live SUMO run
            raise
        self.radio = Radio(s, self.world, self.streams, access_rates=app_cls.uses_server_queues)
        self.servers = EdgeServers(s, self.world, self.streams, self.fidelity.batches_per_tick(s))
        self.forecaster = make_forecaster(s, self.servers, self.recorder)
        self.radio.update(0.0)
        try:
            self.app = app_cls(self)
        except BaseException:  # e.g. a model file the app reads (a one-line ConfigError)
            self.recorder.close(complete=False)  # the trace stays readable, marked incomplete
            self.world.close()
            raise
        self.decisions = DecisionProcess(self.env, self.app, policy)
        self.servers.write_static(self.recorder)
        if app_cls.uses_server_queues:  # /server_load: the servers' WorkQueues and background
            self.recorder.add_sampler(lambda t: self.servers.sample(self.recorder, t))
        self.recorder.add_sampler(self._sample_positions)
        self._started = self._finished = False
        self._collection = PeriodicCollection(gc_interval) if gc_interval is not None else None
        if policy is not None and hasattr(policy, "bind"):  # hindsight references (the oracle)
            try:
                policy.bind(self.app.hindsight())
            except BaseException:
                self.close()
                raise

    def _recorder(self, trace_path: str | None, app_cls: Any, provenance: dict[str, Any]):
        s = self.scenario
        network = ("servers", "server_load", "positions", "predictions") if app_cls.uses_server_queues \
            else ("servers", "positions")
        dtypes = {k: DTYPES[k] for k in network}
        dtypes.update(app_cls.datasets(s, s.n_servers))
        if trace_path is None:
            return NullRecorder(dtypes)
        attrs = {
            "scenario": s.to_json(),
            "seed": s.seed,
            "policy": getattr(self.policy, "name", "external"),
            # set at the end (SWMR allows updating attributes, not adding them)
            "end_time": np.float64(np.nan),
            "background_dropped_bits": np.float64(np.nan),
            **app_cls.root_attrs(),
            "desim_iov_version": __version__,
            "vehicle_trace_report": self.world.import_report,
            **provenance,
        }
        return Recorder(trace_path, dtypes, attrs, chunk_rows=s.trace.chunk_rows,
                        dataset_attrs=app_cls.dataset_attrs())

    @property
    def stats(self) -> Any:
        """The app's run counters (twin migration: packets, outcomes, migrations)."""
        return self.app.stats

    def predicted_work(self, t: float, slot: int) -> np.ndarray:
        """S^pre_m (bits) the forecaster predicts for the next slot; zeros without one."""
        if self.forecaster is None:
            return np.zeros(self.world.n_servers)
        return self.forecaster.predicted_work(t, slot)

    def _sample_positions(self, t: float) -> None:
        """/positions: every vehicle and UAV, and the server hosting each vehicle's twin."""
        w, r = self.world, self.radio
        V, n_uav = w.n_vehicles, len(w.uav_routes)
        pos = self.recorder.rows("positions", V + n_uav)
        pos["time"] = t
        pos["kind"][V:] = POSITION_UAV
        pos["id"][:V] = np.arange(V)
        pos["id"][V:] = np.arange(n_uav)
        xyz = np.concatenate([r.vehicle_xyz, r.server_xyz[w.n_rsu : w.n_rsu + n_uav]])
        pos["x"], pos["y"], pos["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
        hosts = self.app.twin_hosts()
        pos["twin_host"][:V] = hosts if hosts is not None else -1
        pos["twin_host"][V:] = -1
        self.recorder.append_many("positions", pos)

    # ------------------------------------------------------------------ the clock

    def _clock(self):
        s, fid = self.scenario, self.fidelity
        dt = fid.tick(s)
        per_slot = round(s.slot / dt)
        per_sample = max(1, round(s.trace.sample_interval / dt))
        flush_every = s.trace.flush_interval  # wall-clock seconds
        last_flush = time.monotonic()
        k = 0
        while True:
            t = k * dt
            self.radio.update(t)
            self.app.tick(t)
            fid.before_decisions(self, t, dt)
            if k % per_slot == 0:
                yield from self.decisions.epoch(k // per_slot, t)
            if k % per_sample == 0 or k % per_slot == 0:  # slot starts: O_V from the trace
                self.recorder.sample(t)
            fid.after_decisions(self, t, dt)
            if time.monotonic() - last_flush >= flush_every:
                self.recorder.flush()
                last_flush = time.monotonic()
            if self._collection is not None:
                self._collection.tick()
            k += 1
            yield self.env.timeout(k * dt - self.env.now)

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.world.start(self.env)  # live vehicles (SUMO) step before the clock at each instant
        self.env.process(self._clock())
        self.fidelity.start(self)

    # ------------------------------------------------------------------ running

    def run(self, progress: Any = None) -> Any:
        """Run to ``scenario.duration``; ``progress`` is a callable(t_now) or None. The trace
        is closed and marked complete on a clean finish, and marked incomplete (but readable)
        if anything raises. Returns the app's run counters."""
        if self.policy is None:
            raise PolicyError("run() needs a policy; without one, drive it with advance()/act()")
        self.start()
        dur = self.scenario.duration
        try:
            steps = 100 if progress else 1
            for i in range(1, steps + 1):
                if dur * i / steps > self.env.now:  # a run partly advanced by hand goes on
                    with self._kernel_running():
                        self.env.run(until=dur * i / steps)
                if progress:
                    progress(self.env.now)
            self._finish()
        except BaseException:
            self.recorder.close(complete=False)
            self.world.close()
            raise
        return self.stats

    def _kernel_running(self):
        """The context the event loop runs in: the cyclic collector on a timer (or as is)."""
        return paused() if self._collection is not None else contextlib.nullcontext()

    @property
    def pending(self) -> dict[str, Any] | None:
        """The observations of the epoch waiting for :meth:`act` (external control)."""
        return self.decisions.pending

    @property
    def finished(self) -> bool:
        return self._finished

    def advance(self) -> dict[str, Any] | None:
        """External control (``policy=None``): run to the next decision epoch and return its
        observations; at ``scenario.duration`` finish the run (trace complete) and return None."""
        self.start()
        if self.decisions.pending is not None:
            raise PolicyError("advance() called with a decision pending: call act() first")
        if self._finished:
            return None
        env, end = self.env, self.scenario.duration
        try:
            ended = False
            with self._kernel_running():
                while self.decisions.pending is None:
                    if env.peek() >= end:  # as run(until=end): nothing at or after the end
                        env.run(until=end)
                        ended = True
                        break
                    env.step()
            if ended:
                self._finish()
                return None
        except BaseException:
            self.close()
            raise
        return self.decisions.pending

    def act(self, actions: dict[str, Any]) -> Any:
        """Apply the pending epoch's actions now, at the epoch's instant, and return the app's
        outcome of the epoch (twin migration: its /slots rows); then :meth:`advance` again."""
        if self.decisions.pending is None:
            raise PolicyError("act() called with no decision pending")
        try:
            return self.decisions.act(actions)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Give up a run before its end: the trace stays readable, marked incomplete."""
        if not self._finished:
            self.recorder.close(complete=False)
            self._finished = True
        self.world.close()

    def _finish(self) -> None:
        attrs = self.app.finish()
        self.recorder.set_attrs(end_time=self.env.now,
                                background_dropped_bits=float(self.servers.dropped.sum()), **attrs)
        self.recorder.close(complete=True)
        self._finished = True
        self.world.close()


def make_simulation(scenario: Scenario, policy: Any, **kwargs: Any) -> Simulation:
    """The kernel for ``scenario`` (its ``fidelity`` and ``app`` are chosen inside)."""
    return Simulation(scenario, policy, **kwargs)
