"""The SUMO inputs of a scenario: the network (a generated city grid or the user's
``.net.xml``) and the routes (random trips from the scenario's seed or the user's
``.rou.xml``). Generated files are cached outside the repository, in
``$DESIM_IOV_CACHE/sumo`` (default ``$XDG_CACHE_HOME/desim_iov/sumo``, else
``~/.cache/desim_iov/sumo``), one directory per content key, written atomically."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from desim_iov.config import ConfigError, Scenario, resolve_path
from desim_iov.rng import RngStreams
from desim_iov.sumo import tools

_LOCATION = re.compile(rb"<location\b[^>]*>")
_ATTR = re.compile(rb'(\w+)="([^"]*)"')
_VEHICLE = re.compile(rb"<vehicle\b")


@dataclass(frozen=True)
class SumoInputs:
    """What SUMO is started on, and how it was made (for the run's report)."""

    net: Path
    routes: tuple[Path, ...]
    geo: bool  # the network is geo-referenced (a projection in its <location>)
    seed: int  # SUMO's --seed
    description: str


def cache_root() -> Path:
    env = os.environ.get("DESIM_IOV_CACHE")
    if env:
        return Path(env) / "sumo"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "desim_iov" / "sumo"


def _key(**parts: object) -> str:
    text = json.dumps({**parts, "sumo": tools.version()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cached(kind: str, key: str, name: str, make) -> Path:
    """``cache/kind-key/name``, made by ``make(tmpdir) -> None`` (writing ``tmpdir/name``) on
    first use; concurrent makers race harmlessly (the first rename wins)."""
    final = cache_root() / f"{kind}-{key}"
    if (final / name).exists():
        return final / name
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=final.parent))
    try:
        make(tmp)
        if not (tmp / name).exists():
            raise ConfigError(f"SUMO made no {name} in {tmp}")
        try:
            os.replace(tmp, final)
        except OSError:  # another process made it meanwhile
            if not (final / name).exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final / name


def grid_network(s: Scenario) -> Path:
    """A ``grid_size`` x ``grid_size`` city grid made by ``netgenerate`` (cached)."""
    su = s.vehicles.sumo
    key = _key(kind="grid", n=su.grid_size, length=su.grid_length, lanes=su.lanes,
               speed=su.speed_limit)

    def make(tmp: Path) -> None:
        tools.run_tool([tools.binary("netgenerate"), "--grid", "--grid.number", su.grid_size,
                        "--grid.length", repr(su.grid_length), "--default.lanenumber", su.lanes,
                        "--default.speed", repr(su.speed_limit),
                        "--output-file", tmp / "grid.net.xml", "--seed", 0],
                       "netgenerate (vehicles.sumo grid)")

    return _cached("grid", key, "grid.net.xml", make)


def random_routes(s: Scenario, net: Path, seed: int) -> Path:
    """``vehicles.sumo.vehicles`` random trips on ``net``, one every ``period``, routed by
    duarouter (``randomTrips.py --seed``); cached by the network's content and the seed."""
    su = s.vehicles.sumo
    n = su.vehicles or s.vehicles.count
    key = _key(kind="trips", net=_file_digest(net), n=n, period=su.period,
               min_trip=su.min_trip, seed=seed)

    def make(tmp: Path) -> None:
        # trips depart at 0, period, ..., (n - 1) period: --end half a period after the last
        tools.run_tool([
            sys.executable, tools.tool("randomTrips.py"), "--net-file", net,
            "--seed", seed, "--begin", 0, "--end", repr((n - 0.5) * su.period),
            "--period", repr(su.period), "--min-distance", repr(su.min_trip),
            "--prefix", "veh", "--output-trip-file", tmp / "trips.xml",
            "--route-file", tmp / "routes.rou.xml", "--validate",
        ], "randomTrips.py (vehicles.sumo routes: random)", cwd=tmp)

    routes = _cached("trips", key, "routes.rou.xml", make)
    made = len(_VEHICLE.findall(_read_bytes(routes)))
    if made < s.vehicles.count:
        raise ConfigError(f"randomTrips.py made {made} routable trips on {net.name}, "
                          f"vehicles.count is {s.vehicles.count} (lower vehicles.sumo.min_trip "
                          "or use a larger network)")
    return routes


def _read_bytes(path: Path) -> bytes:
    with path.open("rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        return fh.read()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(_read_bytes(path)).hexdigest()


def net_location(net: Path) -> dict[str, str]:
    """The attributes of the network's ``<location>`` (netOffset, convBoundary,
    projParameter, ...); empty when it has none."""
    m = _LOCATION.search(_read_bytes(net)[: 1 << 20])
    if not m:
        return {}
    return {k.decode(): v.decode() for k, v in _ATTR.findall(m.group(0))}


def _user_file(value: str, role: str, s: Scenario) -> Path:
    path = resolve_path(value, s)
    if not path.is_file():
        raise ConfigError(f"vehicles.sumo.{role}: {path}: no such file")
    return path.resolve()


def sumo_inputs(s: Scenario, streams: RngStreams) -> SumoInputs:
    """Generate (or find) the network and routes of ``s``; one-line errors for missing files."""
    su = s.vehicles.sumo
    seeds = streams.get("mobility.sumo").integers(0, 2**31 - 1, size=2)
    sumo_seed, trips_seed = int(seeds[0]), int(seeds[1])
    if su.net == "grid":
        net = grid_network(s)
        what = (f"generated {su.grid_size}x{su.grid_size} grid, {su.grid_length:g} m blocks, "
                f"{su.lanes} lane(s), {su.speed_limit:g} m/s")
    else:
        net = _user_file(su.net, "net", s)
        what = f"network {net}"
    if su.routes == "random":
        routes: tuple[Path, ...] = (random_routes(s, net, trips_seed),)
        what += (f"; {su.vehicles or s.vehicles.count} random trips, one every {su.period:g} s "
                 f"(randomTrips.py seed {trips_seed})")
    else:
        routes = tuple(_user_file(r, "routes", s) for r in su.route_files())
        if not routes:
            raise ConfigError("vehicles.sumo.routes: no route file given")
        what += f"; routes {', '.join(map(str, routes))}"
    proj = net_location(net).get("projParameter", "!")
    return SumoInputs(net, routes, proj not in ("", "!"), sumo_seed, what)
