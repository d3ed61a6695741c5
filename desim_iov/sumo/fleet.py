"""Vehicles driven live by SUMO: a SUMO simulation stepped in lockstep with the kernel.

:class:`SumoFleet` is the world's live vehicle source (``vehicles.mobility: sumo``). Its
SimPy process advances SUMO by one kernel mobility step (``simulationStep``, or
``step_length`` sub-steps of it) every ``mobility_step`` and reads the positions of the
vehicles the kernel follows. Timing matches SUMO's FCD output: the state the kernel sees at
time t is what ``--fcd-output`` writes for ``time=t`` (SUMO is stepped once on start, for
t = 0).

Kernel vehicle ``v`` is the ``v``-th SUMO vehicle to depart (in SUMO's own order within a
step); the first ``vehicles.count`` are followed, any later ones are background traffic.
Like a recorded vehicle it drives on [start, end): ``start`` the first step SUMO has it on
the road, ``end`` the first step after it arrived (both ``inf`` until they happen). Before
it enters, it is parked at the network's centre; after it leaves (or while SUMO teleports
it) its last position is held. docs/MODEL.md ("Live SUMO mobility") gives the reasons.

libsumo runs one SUMO per process: starting another libsumo fleet closes the previous one
(which can no longer step). TraCI fleets (``interface: traci``) run side by side.
"""

from __future__ import annotations

import contextlib
import io
import math
import subprocess
import warnings
import weakref
from typing import Any

import numpy as np

from desim_iov.config import ConfigError, Scenario
from desim_iov.sumo import tools
from desim_iov.sumo.network import SumoInputs
from models.geo import enu_from_lonlat

_POSITION3D = 0x39  # libsumo/traci constants.VAR_POSITION3D
_libsumo_owner: weakref.ref | None = None  # the fleet holding the process's libsumo


class SumoFleet:
    """``count`` kernel vehicles of a running SUMO simulation (see the module docstring).

    Public: ``count``, ``interface`` (``libsumo`` or ``traci``), ``frame``, ``time`` (the
    kernel time of the state held), ``start``/``end`` (per vehicle, s, ``inf`` until known),
    ``ids`` (the SUMO id of each kernel vehicle, None before it departs), ``report``, and
    ``step_wall_s`` (wall seconds spent in SUMO stepping and reading, the lockstep cost)."""

    def __init__(self, s: Scenario, inputs: SumoInputs) -> None:
        su = s.vehicles.sumo
        self.count = s.vehicles.count
        self.dt = s.mobility_step
        self.sumo_step = su.step_length or s.mobility_step
        self.substeps = max(1, round(self.dt / self.sumo_step))
        self.inputs = inputs
        self.start = [math.inf] * self.count
        self.end = [math.inf] * self.count
        self.ids: list[str | None] = [None] * self.count
        self._slot: dict[str, int] = {}
        self._k = 0
        self.time = 0.0
        self.step_wall_s = 0.0
        self.closed = False
        self._env: Any = None
        self._entries: dict[int, Any] = {}
        self._lib, self.interface = tools.interface(su.interface)
        self._open(s, inputs)
        try:
            self._set_frame(s, inputs)
            self._xyz = np.tile(self._park, (self.count, 1))
            self._step()  # SUMO's state at t = 0 (its FCD time 0)
        except BaseException:
            self.close()
            raise
        self.report = (f"SUMO {tools.version()} via {self.interface}, step {self.sumo_step:g} s "
                       f"(x{self.substeps} per mobility step), seed {inputs.seed}; "
                       f"{inputs.description}; frame {self.frame}; the kernel follows the first "
                       f"{self.count} vehicles to depart.")

    # ------------------------------------------------------------------ SUMO

    def _command(self, s: Scenario, inputs: SumoInputs) -> list[str]:
        return [str(tools.binary("sumo")), "--net-file", str(inputs.net),
                "--route-files", ",".join(map(str, inputs.routes)),
                "--step-length", repr(self.sumo_step), "--seed", str(inputs.seed),
                "--begin", "0", "--no-step-log", "true", "--no-warnings", "true",
                "--duration-log.disable", "true", *s.vehicles.sumo.options]

    def _open(self, s: Scenario, inputs: SumoInputs) -> None:
        global _libsumo_owner
        cmd = self._command(s, inputs)
        if self.interface == "libsumo":
            owner = _libsumo_owner() if _libsumo_owner is not None else None
            if owner is not None and not owner.closed:
                owner.close()  # libsumo holds one simulation per process
            try:
                self._lib.start(cmd)
            except Exception as e:  # SUMO's errors: bad files, options
                raise ConfigError(f"SUMO could not start (libsumo): {_first_line(e)}") from None
            self._conn = self._lib
            _libsumo_owner = weakref.ref(self)
            return
        import traci
        from sumolib.miscutils import getFreeSocketPort

        port = getFreeSocketPort()
        proc = subprocess.Popen([*cmd, "--remote-port", str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # traci prints its retries
                self._conn = traci.connect(port, numRetries=200, proc=proc, waitBetweenRetries=0.05)
        except Exception:
            proc.kill()
            err = proc.communicate()[1] or ""
            lines = [ln for ln in err.splitlines() if ln.strip()]
            raise ConfigError(f"SUMO could not start (traci): "
                              f"{lines[-1] if lines else 'no message'}") from None

    def _set_frame(self, s: Scenario, inputs: SumoInputs) -> None:
        """The map from SUMO's x/y to the scenario's local east/north metres."""
        frame = s.vehicles.sumo.frame
        if frame == "auto":
            frame = "geo" if inputs.geo else "centre"
        if frame == "geo" and not inputs.geo:
            raise ConfigError(f"vehicles.sumo.frame geo: {inputs.net.name} is not geo-referenced "
                              "(no projParameter in its <location>): use centre or net")
        self.frame = frame
        self._origin = (s.area.origin_lon, s.area.origin_lat)
        (x0, y0), (x1, y1) = self._conn.simulation.getNetBoundary()
        self._offset = np.array([-(x0 + x1) / 2, -(y0 + y1) / 2]) if frame == "centre" \
            else np.zeros(2)
        self._park = np.append(self._map(np.array([[(x0 + x1) / 2, (y0 + y1) / 2]]))[0], 0.0)

    def _map(self, xy: np.ndarray) -> np.ndarray:
        """(K, 2) SUMO x/y -> (K, 2) local metres of the scenario."""
        if self.frame != "geo":
            return xy + self._offset
        conv = self._conn.simulation.convertGeo
        lonlat = np.array([conv(float(x), float(y)) for x, y in xy]).reshape(-1, 2)
        e, n = enu_from_lonlat(lonlat[:, 0], lonlat[:, 1], *self._origin)
        return np.column_stack([e, n])

    def _step(self) -> None:
        """Advance SUMO by one kernel mobility step and read the followed vehicles."""
        if self.closed:
            raise RuntimeError("this SUMO run is closed (libsumo runs one SUMO per process: "
                               "a later run closed it; use vehicles.sumo.interface: traci)")
        import time

        wall = time.perf_counter()
        conn, sim = self._conn, self._conn.simulation
        departed: list[str] = []
        arrived: list[str] = []
        for _ in range(self.substeps):
            conn.simulationStep()
            departed.extend(sim.getDepartedIDList())
            arrived.extend(sim.getArrivedIDList())
        now = self.time
        entered = []
        for vid in departed:
            if len(self._slot) < self.count and vid not in self._slot:
                v = self._slot[vid] = len(self._slot)
                self.ids[v], self.start[v] = vid, now
                conn.vehicle.subscribe(vid, (_POSITION3D,))
                entered.append(v)
        for vid in arrived:
            v = self._slot.get(vid)
            if v is not None and self.end[v] == math.inf:
                self.end[v] = now
        results = conn.vehicle.getAllSubscriptionResults()
        rows, raw = [], []
        for vid, vals in results.items():
            v = self._slot.get(vid)
            if v is not None and self.end[v] == math.inf and _POSITION3D in vals:
                rows.append(v)
                raw.append(vals[_POSITION3D])
        if rows:
            xyz = self._xyz.copy()  # a new array each step: the radio keeps the last one
            p = np.asarray(raw, dtype=float)
            xyz[rows, :2] = self._map(p[:, :2])
            xyz[rows, 2] = p[:, 2]
            self._xyz = xyz
        self.step_wall_s += time.perf_counter() - wall
        for v in entered:
            ev = self._entries.pop(v, None)
            if ev is not None:
                ev.succeed()

    def advance_to(self, t: float) -> None:
        """Step SUMO until it holds the state of kernel time ``t`` (a mobility step)."""
        k = round(t / self.dt)
        if abs(t - k * self.dt) > 1e-6 * max(1.0, self.dt):
            raise ValueError(f"SUMO moves in mobility steps of {self.dt:g} s: asked t = {t!r}")
        if k < self._k:
            raise ValueError(f"SUMO cannot go back: it is at t = {self.time:g} s, asked {t:g} s")
        while self._k < k:
            self._k += 1
            self.time = self._k * self.dt
            self._step()

    # ------------------------------------------------------------------ the kernel's view

    def positions(self, t: float) -> np.ndarray:
        """(V, 3) local metres at kernel time ``t`` (stepping SUMO up to it if needed)."""
        self.advance_to(t)
        return self._xyz

    def active(self, v: int, t: float) -> bool:
        return self.start[v] <= t < self.end[v]

    def bind(self, env: Any) -> None:
        """Start the lockstep process on ``env`` (before the kernel's clock)."""
        self._env = env
        env.process(self._process(env))

    def _process(self, env: Any):
        while True:
            yield env.timeout((self._k + 1) * self.dt - env.now)
            self.advance_to(env.now)

    def entry(self, v: int) -> Any:
        """A SimPy event that fires when vehicle ``v`` enters (None if it already has)."""
        if self.start[v] != math.inf:
            return None
        if v not in self._entries:
            self._entries[v] = self._env.event()
        return self._entries[v]

    def road_points(self, spacing_m: float = 25.0) -> np.ndarray:
        """(K, 2) points every ``spacing_m`` along the network's lanes, in the local frame
        (the "traffic" that density RSU layouts follow when no vehicle trace exists)."""
        lane = self._conn.lane
        pts = []
        for lid in lane.getIDList():
            if lid.startswith(":"):  # junction-internal lanes
                continue
            shape = np.asarray(lane.getShape(lid), dtype=float)[:, :2]
            for a, b in zip(shape[:-1], shape[1:], strict=True):
                n = max(1, int(np.hypot(*(b - a)) // spacing_m))
                pts.append(a + np.linspace(0.0, 1.0, n, endpoint=False)[:, None] * (b - a))
        return self._map(np.concatenate(pts)) if pts else np.zeros((0, 2))

    def close(self) -> None:
        """End SUMO (idempotent). Warns when fewer than ``count`` vehicles ever departed."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self._conn.close()
        missing = self.count - len(self._slot)
        if missing and self._k:
            warnings.warn(f"vehicles.mobility sumo: {missing} of the {self.count} followed "
                          f"vehicles never departed by t = {self.time:g} s (they stayed parked)",
                          stacklevel=2)


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
