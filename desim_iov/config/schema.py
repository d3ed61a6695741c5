"""Scenario schema: typed, validated, SI inside, human units accepted (pydantic v2).
Loading, presets and overrides are in :mod:`desim_iov.config.loading`."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    model_serializer,
    model_validator,
)

from desim_iov.config.offload import Offload
from desim_iov.config.schema_base import (  # noqa: F401  (re-exported)
    BitRate,
    Bits,
    BitsNN,
    ConfigError,
    Count,
    Decibels,
    Fraction,
    Hertz,
    Meters,
    MetersNN,
    Seconds,
    SecondsNN,
    Speed,
    SpeedNN,
    Strict,
    Switch,
    Watts,
    _check_pathloss,
    _non_negative,
    _positive,
)
from desim_iov.config.sumo import Sumo, check_sumo
from models.forecast.names import PREDICTOR_NAMES


class Area(Strict):
    """The simulated region: a ``width x height`` rectangle centred on (origin_lat, origin_lon);
    positions inside the kernel are local east/north metres about that origin."""

    width: Meters = 6000.0
    height: Meters = 6000.0
    origin_lat: float = Field(39.9042, ge=-90, le=90)
    origin_lon: float = Field(116.4074, ge=-180, le=180)


class Traffic(Strict):
    """Application packets each vehicle sends to its twin (S_v per second, twin-migration Sec. III)."""

    data_rate: BitRate = 16e6
    packet_size: Bits = 800e3
    arrivals: Literal["constant", "poisson"] = "poisson"
    result_ratio: Annotated[float, AfterValidator(_non_negative)] = 1.0


class Vehicles(Strict):
    """``mobility: random_waypoint`` draws 3-D random waypoint legs (quantum-DRL Eq. 8–10);
    ``trace`` (set by giving ``trace: PATH``) drives the first ``count`` vehicles of a recorded
    trace — a T-Drive directory, SUMO FCD (.xml/.xml.gz) or CSV, detected from the content
    unless ``trace_format`` says; ``trace_options`` go to the reader (window, cleaning);
    ``sumo`` steps a live SUMO simulation (the ``sumo`` block, :mod:`desim_iov.config.sumo`)
    and follows the first ``count`` vehicles to depart."""

    count: Count = Field(5, ge=1, le=100_000)
    mobility: Literal["random_waypoint", "trace", "sumo"] = "random_waypoint"
    trace: str | None = None
    trace_format: Literal["auto", "tdrive", "fcd", "csv"] = "auto"
    trace_options: dict[str, Any] = {}
    trace_select: Literal["first", "most_fixes", "most_covered"] = "first"
    speed_min: Speed = 8.0
    speed_max: Speed = 16.0
    pause: SecondsNN = 0.0
    z_min: MetersNN = 0.0
    z_max: MetersNN = 0.0
    max_ascent_deg: Annotated[float, Field(gt=0.0, le=90.0)] | None = None
    tx_power: Watts = 0.2
    twin_size: Bits = 480e6
    cycles_per_bit: Annotated[float, AfterValidator(_positive)] = 1000.0
    traffic: Traffic = Traffic()
    sumo: Sumo = Sumo()

    @model_validator(mode="after")
    def _ranges(self) -> Vehicles:
        if self.speed_min > self.speed_max:
            raise ValueError(f"speed_min {self.speed_min} m/s exceeds speed_max {self.speed_max} m/s")
        if self.z_min > self.z_max:
            raise ValueError(f"z_min {self.z_min} m exceeds z_max {self.z_max} m")
        if self.mobility == "trace" and not self.trace:
            raise ValueError("mobility 'trace' needs 'trace: <file or directory>'")
        if self.mobility != "sumo" and self.sumo != Sumo():
            raise ValueError(f"'sumo' given with mobility {self.mobility!r}: set mobility: sumo")
        return self

    @model_serializer(mode="wrap")
    def _without_unused_sumo(self, handler: Any) -> Any:
        """``sumo`` is dumped only with mobility sumo: other scenarios keep the JSON (trace
        provenance, sweep job keys) they had before the block existed."""
        data = handler(self)
        if self.mobility != "sumo" and isinstance(data, dict):
            data.pop("sumo", None)
        return data

    @model_validator(mode="before")
    @classmethod
    def _trace_implies_mobility(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("trace"):
            if data.get("mobility", "trace") != "trace":
                raise ValueError(
                    f"'trace' given with mobility {data['mobility']!r}: drop one of them"
                )
            data = dict(data, mobility="trace")
        return data


class ServerClass(Strict):
    """Parameters shared by a class of edge servers (twin-migration Table I).

    ``antennas`` M > 1 gives the access links the array gain of maximum-ratio combining
    (uplink, SIMO) and transmission (downlink, MISO) with perfect CSI (quantum-DRL Eq. 13–14,
    22). ``pathloss`` (and its params) overrides the channel's model for this class's access
    links. ``cpu_deviation`` draws each server's available CPU below ``cpu`` once per run
    (quantum-DRL Eq. 4): ``uniform`` with half-width ``cpu_deviation_scale`` (relative),
    ``cn_abs`` |CN(0, scale)|."""

    range: Meters = 1200.0
    cpu: Hertz = 32e9
    cpu_deviation: Literal["none", "uniform", "cn_abs"] = "none"
    cpu_deviation_scale: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    cache: Bits = 2.4e9
    tx_power: Watts = 1.0
    bandwidth_up: Hertz = 300e6
    bandwidth_down: Hertz = 300e6
    antennas: Count = Field(1, ge=1, le=1024)
    rician_k: Annotated[float, Field(ge=0.0)] | None = None  # None: channel.rician_k
    pathloss: str | None = None
    pathloss_params: dict[str, float] = {}

    @model_validator(mode="after")
    def _known_model(self) -> ServerClass:
        if self.pathloss is not None:
            _check_pathloss(self.pathloss, self.pathloss_params, 3.5e9)
        elif self.pathloss_params:
            raise ValueError("pathloss_params without pathloss (set both, or use channel.*)")
        return self


class RSUs(ServerClass):
    """RSUs/base stations: ``grid`` or ``scattered`` over a square of side ``extent``
    (default: the area), or along the vehicles' trajectory density (``density_city``: a
    contiguous lattice of ``cell``-spaced sites over the busiest district; ``density_rural``:
    scattered on fixes, ``min_separation`` apart; traces.placement.along_density), or read
    from ``positions`` (``layout: file``: a CSV of x,y[,z] metres or lat,lon[,z] degrees, one
    site per RSU, ``count`` must match), at heights uniform in [height_min, height_max] unless
    the file gives z."""

    count: Count = Field(80, ge=0, le=100_000)
    layout: Literal["grid", "scattered", "density_city", "density_rural", "file"] = "grid"
    positions: str | None = None  # layout file: CSV x,y[,z] (m) or lat,lon[,z]; 'data:' allowed
    min_separation: MetersNN = 0.0
    cell: Meters | None = None
    extent: Meters | None = None
    height_min: MetersNN = 0.0
    height_max: MetersNN = 0.0

    @model_validator(mode="after")
    def _heights(self) -> RSUs:
        if (self.layout == "file") != (self.positions is not None):
            raise ValueError("layout 'file' and positions: PATH go together (set both or neither)")
        if self.height_min > self.height_max:
            raise ValueError(f"height_min {self.height_min} m exceeds height_max {self.height_max} m")
        return self


class UAVs(ServerClass):
    """UAVs: ``patrol`` loops among RSUs at ``altitude`` and ``speed`` (twin-migration
    Sec. VII-A); ``random_waypoint`` flies 3-D random waypoint legs (quantum-DRL Eq. 8–10)
    over a square of side ``extent`` (default: the area), altitudes in [altitude,
    altitude_max] and speeds in [speed, speed_max]."""

    count: Count = Field(10, ge=0, le=10_000)
    range: Meters = 1500.0
    mobility: Literal["patrol", "random_waypoint"] = "patrol"
    altitude: MetersNN = 50.0
    altitude_max: MetersNN | None = None
    speed: Speed = 3.7
    speed_max: Speed | None = None
    extent: Meters | None = None
    route_length: Count = Field(4, ge=1)

    @model_validator(mode="after")
    def _ranges(self) -> UAVs:
        if self.altitude_max is not None and self.altitude_max < self.altitude:
            raise ValueError(f"altitude_max {self.altitude_max} m is below altitude {self.altitude} m")
        if self.speed_max is not None and self.speed_max < self.speed:
            raise ValueError(f"speed_max {self.speed_max} m/s is below speed {self.speed} m/s")
        return self


class Satellite(Strict):
    """One LEO satellite, always reachable at a fixed rate R_SAT (twin-migration Eq. 6–7)."""

    enabled: Switch = True
    rate: BitRate = 100e6
    cpu: Hertz = 80e9
    cache: Bits = 2.4e9
    altitude: Meters = 550e3


class Channel(Strict):
    """Access and migration links: ``pathloss`` names a model of ``models.pathloss.MODELS``
    (``pathloss_params`` its keyword parameters, e.g. ``{h_bs: 25, h_ut: 1.5}`` for
    ``uma_los``); the linear gain is ``gain_coefficient`` x 10^(-PL/10) (twin-migration Eq. 3
    with A = ``gain_coefficient`` for ``free_space``). ``rate`` picks Shannon (twin-migration
    Eq. 4) or the finite-blocklength rate (quantum-DRL Eq. 23) with ``blocklength`` and
    ``error_prob``. Noise is thermal (``noise_density_dbm_hz`` + ``noise_figure`` over each
    link's bandwidth) unless ``noise_power`` gives sigma^2 outright. ``fading`` multiplies the
    access links' gain by a small-scale draw per link every mobility step (Rayleigh, or Rician
    with linear K-factor ``rician_k``, quantum-DRL Eq. 24-25, which a server class may
    override, e.g. K = 0 (Rayleigh) for BSs and 6 for UAVs; with an array, the MRC/MRT gain of
    i.i.d. antennas); ``none`` keeps the deterministic path gain (twin-migration Eq. 3)."""

    pathloss: str = "free_space"
    pathloss_params: dict[str, float] = {}
    carrier_frequency: Hertz = 3.5e9
    gain_coefficient: Annotated[float, AfterValidator(_positive)] = 1.0
    noise_density_dbm_hz: float = -174.0
    noise_figure: Decibels = 7.0

    fading: Literal["none", "rayleigh", "rician"] = "none"
    rician_k: Annotated[float, Field(ge=0.0)] = 6.0

    rate: Literal["shannon", "fbl"] = "shannon"
    blocklength: Count = Field(100, ge=1)
    error_prob: float = Field(1e-6, gt=0.0, lt=1.0)
    noise_power: Watts | None = None

    @model_validator(mode="after")
    def _known_model(self) -> Channel:
        _check_pathloss(self.pathloss, self.pathloss_params, self.carrier_frequency)
        return self


class Migration(Strict):
    bandwidth: Hertz = 300e6
    packets_during: Literal["hold", "drop"] = "hold"


class Background(Strict):
    """Background workload S_m(t) per RSU/UAV, as a utilisation of its CPU (docs/MODEL.md).

    ``constant``: ``utilisation``; ``periodic``: ``utilisation (1 + amplitude sin(2 pi t /
    period + phi_m))``; ``pems``: proportional to a PeMS station's flow c_m(t)
    (twin-migration Sec. V, S_m = S_v c_m(t)), scaled so that the mean over stations and time
    is ``utilisation``; simulated t = 0 is ``pems_start``, stations are dealt to servers by a
    seeded shuffle. ``pems_source`` is a D12-layout directory or a PEMS0x ``.npz`` file."""

    model: Literal["none", "constant", "periodic", "pems"] = "periodic"
    utilisation: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.3
    amplitude: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    period: Seconds = 600.0
    burst: Literal["poisson", "deterministic"] = "poisson"
    pems_source: str = "data:pems/D12_Orange_2022-01"
    pems_start: str = "2022-01-24 08:00"


class Reward(Strict):
    """Eq. 22 of the twin-migration paper for the RL environments: weights of the Z-scored
    latency T^sum, the Z-scored load S'_m of the chosen server (the paper's reward shaping) and
    the failure flag xi. The paper gives no values; T^sum is capped at ``latency_cap`` (an
    unreachable host has T^sum = inf under an FBL rate)."""

    w_latency: Annotated[float, Field(ge=0.0)] = 1.0
    w_load: Annotated[float, Field(ge=0.0)] = 1.0
    w_failure: Annotated[float, Field(ge=0.0)] = 1.0
    latency_cap: Seconds = 300.0


PREDICTORS = PREDICTOR_NAMES  # models.forecast.names


class Predictor(Strict):
    """The digital twin's workload predictor (twin-migration Eq. 19, Fig. 4): at each decision
    slot it forecasts every server's background flow for the current 5-minute step from the
    steps before it; the predicted work S^pre_m enters the observations and the mask.
    ``none``: no prediction (S^pre = 0); ``oracle``: the true flow; neural models need a
    ``checkpoint`` (``desim-iov forecast table --out DIR`` writes them). Needs
    ``background.model: pems``."""

    name: Literal[PREDICTORS] = "none"  # type: ignore[valid-type]
    checkpoint: str | None = None


class PolicySpec(Strict):
    name: str = "greedy"
    params: dict[str, Any] = {}


class TraceConfig(Strict):
    """``sample_interval``: simulated seconds between /server_load and /positions samples;
    ``flush_interval``: wall-clock seconds between flushes of the HDF5 file (what a crash
    can lose, and how often a SWMR reader sees progress; it never changes the content)."""

    sample_interval: Seconds = 5.0
    flush_interval: Seconds = 5.0
    chunk_rows: Count = Field(8192, ge=64)


class Scenario(Strict):
    """A whole scenario. Paths written ``data:REL`` resolve against ``data_dir``, else
    ``$DESIM_IOV_DATA``, else ``../shared/data`` beside the repository."""

    name: str = "custom"
    description: str = ""
    data_dir: str | None = None
    seed: Count = Field(0, ge=0)
    duration: Seconds = 600.0
    app: Literal["twin_migration", "task_offloading"] = "twin_migration"  # desim_iov.apps.APPS
    fidelity: Literal["packet", "slot"] = "packet"  # desim_iov.fidelity.FIDELITIES
    slot: Seconds = 30.0
    mobility_step: Seconds = 1.0
    overflow: Literal["satellite", "drop"] = "satellite"
    area: Area = Area()
    vehicles: Vehicles = Vehicles()
    rsus: RSUs = RSUs()
    uavs: UAVs = UAVs()
    satellite: Satellite = Satellite()
    channel: Channel = Channel()
    migration: Migration = Migration()
    background: Background = Background()
    policy: PolicySpec = PolicySpec()
    predictor: Predictor = Predictor()
    reward: Reward = Reward()
    offload: Offload = Offload()  # app task_offloading (quantum-DRL paper)
    trace: TraceConfig = TraceConfig()

    @model_validator(mode="before")
    @classmethod
    def _policy_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("policy"), str):
            data = dict(data, policy={"name": data["policy"]})
        return data

    @model_validator(mode="after")
    def _servers(self) -> Scenario:
        if self.rsus.count + self.uavs.count + int(self.satellite.enabled) == 0:
            raise ValueError("no edge server: set rsus.count, uavs.count or satellite.enabled")
        ratio = self.slot / self.mobility_step
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(
                f"slot {self.slot} s must be a whole multiple of mobility_step {self.mobility_step} s"
            )
        if self.predictor.name != "none" and self.background.model != "pems":
            raise ValueError(
                f"predictor {self.predictor.name!r} forecasts PeMS flow: set background.model: pems"
            )
        if self.uavs.count and self.uavs.mobility == "patrol" and not self.rsus.count:
            raise ValueError("UAVs patrol among RSUs: uavs.count > 0 needs rsus.count > 0")
        if self.app == "task_offloading":
            self._offloading()
        if self.vehicles.mobility == "sumo":
            check_sumo(self)
        from desim_iov.config.bounds import implausible

        problem = implausible(self.model_dump(mode="python"))
        if problem:
            raise ValueError(problem)
        return self

    def _offloading(self) -> None:
        """What the task-offloading app cannot run with (one-line errors)."""
        if self.satellite.enabled:
            raise ValueError("app task_offloading has no satellite (quantum-DRL paper): "
                             "set satellite.enabled: false")
        if self.background.model != "none":
            raise ValueError("app task_offloading models its own CPU load: set background.model: none")
        if self.predictor.name != "none":
            raise ValueError("app task_offloading has no workload predictor: set predictor.name: none")
        for name, cfg in (("rsus", self.rsus), ("uavs", self.uavs)):
            if cfg.cpu_deviation != "none":
                raise ValueError(f"app task_offloading draws the CPU deviation itself "
                                 f"(offload.network.cpu_deviation): set {name}.cpu_deviation: none")
        relays = self.rsus.count + self.uavs.count
        if relays == 0:
            raise ValueError("app task_offloading needs at least one BS (rsus) or UAV")
        hops = self.offload.network.max_hops
        if hops > relays - 1:
            raise ValueError(f"offload.network.max_hops {hops} is impossible: a loop-free route "
                             f"visits at most {relays} BSs/UAVs ({relays - 1} relay hops)")

    @property
    def n_servers(self) -> int:
        return self.rsus.count + self.uavs.count + int(self.satellite.enabled)

    @property
    def slot_bits(self) -> float:
        """S_v: the data (bits) a vehicle sends per slot (twin-migration Eq. 6-8)."""
        return self.vehicles.traffic.data_rate * self.slot

    def to_json(self) -> str:
        """Canonical JSON (SI values) for trace provenance; ``Scenario.model_validate_json``
        reads it back to an equal scenario."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)
