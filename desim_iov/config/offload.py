"""The task-offloading app's configuration (quantum-DRL paper Sec. II–IV, Table II), the
``offload:`` section of a scenario. Readings of the paper's gaps are cited by their number in
docs/MODEL.md ("Task offloading"); every default is Table II's value or that reading."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from desim_iov.config.schema_base import (
    BitRate,
    Bits,
    Count,
    Fraction,
    Hertz,
    Seconds,
    Strict,
    Switch,
    _check_pathloss,
    _non_negative,
    _positive,
)

Joules = Annotated[float, AfterValidator(_positive)]
Weight = Annotated[float, Field(ge=0.0)]


class Priority(Strict):
    """Eq. 1–2: P_ij = (alpha C_j/sum C + beta D_j/sum D + gamma chi_j) varpi kappa, chi ~ U(0, 1)
    per subtask, varpi = kappa = 1 (reading A21; the paper gives no value)."""

    alpha: float = Field(1 / 3, gt=0.0, lt=1.0)
    beta: float = Field(1 / 3, gt=0.0, lt=1.0)
    gamma: float = Field(1 / 3, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _sum(self) -> Priority:
        if abs(self.alpha + self.beta + self.gamma - 1.0) > 1e-6:
            raise ValueError(f"alpha + beta + gamma must be 1 (Eq. 2), got "
                             f"{self.alpha + self.beta + self.gamma:.6g}")
        return self


class Tasks(Strict):
    """Per-vehicle tasks T_i of ``size`` bits created at slot starts: ``bernoulli`` with
    probability ``prob_per_slot`` per vehicle and slot, or ``per_step``: one task per vehicle
    per slot (Fig. 4). A task splits into n = ceil(size / max_subtask) x level subtasks of equal
    size (C20: each <= D^max); the vehicle agent picks the level from ``split_levels``.
    ``cycles_per_bit`` C_ij (Table II: 330 cycles/byte), ``deadline`` rho (C5/C6).
    ``arrival_slots``: tasks appear only in the first k slots (Fig. 4's "time steps"; the run
    goes on until ``duration`` so that they can finish); None: in every slot."""

    size: Bits = 8e6
    arrivals: Literal["bernoulli", "per_step"] = "bernoulli"
    arrival_slots: Annotated[int, Field(strict=True, ge=1)] | None = None
    prob_per_slot: float = Field(0.1, ge=0.0, le=1.0)
    max_subtask: Bits = 8e6
    split_levels: list[Annotated[int, Field(strict=True, ge=1, le=64)]] = [1, 2, 4]
    cycles_per_bit: Annotated[float, AfterValidator(_positive)] = 41.25
    deadline: Seconds = 0.010
    hold_slots: Count = Field(5, ge=0)
    priority: Priority = Priority()

    @model_validator(mode="after")
    def _sizes(self) -> Tasks:
        if self.max_subtask > self.size:
            raise ValueError(f"max_subtask (D^max) {self.max_subtask:g} bit exceeds the task size "
                             f"{self.size:g} bit")
        if not self.split_levels or len(set(self.split_levels)) != len(self.split_levels):
            raise ValueError("split_levels must be a non-empty list of distinct integers >= 1")
        return self

    def n_subtasks(self, level: int) -> int:
        """Subtasks of one task at split ``level`` (each of size / n bits <= D^max)."""
        import math

        return math.ceil(self.size / self.max_subtask - 1e-9) * level


class RelayLink(Strict):
    """One relay link type (U->U' Eq. 32–33, B->U Eq. 34–35, U->B Eq. 36–37): path loss model
    of ``models.pathloss.MODELS`` (``log_distance`` with ``exponent_range``: alpha_PL drawn
    U(lo, hi) per node pair and run, Table II), small-scale ``fading`` (Rician K-factor
    ``rician_k``), the FBL ``blocklength`` n of Eq. 23."""

    pathloss: str = "log_distance"
    pathloss_params: dict[str, float] = {}
    exponent_range: tuple[float, float] | None = (2.25, 2.75)
    fading: Literal["none", "rayleigh", "rician"] = "rician"
    rician_k: Annotated[float, Field(ge=0.0)] = 6.0
    blocklength: Count = Field(100, ge=1)

    @model_validator(mode="after")
    def _model(self) -> RelayLink:
        if self.exponent_range is not None:
            lo, hi = self.exponent_range
            if not 0 < lo <= hi:
                raise ValueError(f"exponent_range {self.exponent_range}: need 0 < lo <= hi")
            if self.pathloss != "log_distance":
                raise ValueError("exponent_range is for pathloss log_distance only")
            if "exponent" in self.pathloss_params:
                raise ValueError("give exponent_range or pathloss_params.exponent, not both")
        _check_pathloss(self.pathloss, self.pathloss_params, 3.5e9)
        return self


class Links(Strict):
    """Link types of Table I. Vehicle access links (V->B SIMO, V->U SISO) take path loss and
    fading from the ``rsus``/``uavs`` sections (the kernel's radio); here only their block
    length. Relay links are configured in full. There is no B->B link and nothing into a
    vehicle (Sec. II, results return at no cost)."""

    vb_blocklength: Count = Field(100, ge=1)
    vu_blocklength: Count = Field(100, ge=1)
    uu: RelayLink = RelayLink()
    bu: RelayLink = RelayLink()
    ub: RelayLink = RelayLink()


class DegreeCap(Strict):
    """Per-UAV caps on its links by neighbour kind (Fig. 7: a UAV keeps at most 2 vehicles and
    4 BSs at low density): the strongest links are kept (reading A40). None: no cap."""

    vehicles: Annotated[int, Field(strict=True, ge=0)] | None = None
    bss: Annotated[int, Field(strict=True, ge=0)] | None = None
    uavs: Annotated[int, Field(strict=True, ge=0)] | None = None


class Network(Strict):
    """Forwarding and processing. ``min_rate`` R^ (C8: an edge exists iff its rate is at
    least this, also C1 coverage); ``max_hops`` relay hops after the access hop (reading A19);
    ``capacity_cycles`` C_z admitted per node and slot (C3/C4, reading A27); CPU f_cpu(t) =
    f_max (1 - Delta f) redrawn every slot (``cpu_deviation_period: slot``) or once per run
    (Eq. 4, reading A16), the digital twin sees it with a uniform ``dt_cpu_error`` (Table II);
    agents choose a CPU level (fraction of f_cpu) and a transmit power level (``power_levels``
    steps of ``power_step_db`` below P_max)."""

    min_rate: BitRate = 10e6
    max_hops: Annotated[int, Field(strict=True, ge=0)] = 3
    capacity_cycles: Annotated[float, AfterValidator(_positive)] = 2.7e8
    cpu_deviation: Literal["none", "cn_abs", "cn_real", "uniform"] = "cn_abs"
    cpu_deviation_scale: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    cpu_deviation_period: Literal["slot", "run"] = "slot"
    f_min_ratio: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    dt_cpu_error: Annotated[float, AfterValidator(_non_negative)] = 0.15e9
    cpu_levels: list[Annotated[float, Field(gt=0.0, le=1.0)]] = [1.0, 0.5]
    vehicle_power_levels: Count = Field(4, ge=1, le=16)
    relay_power_levels: Count = Field(2, ge=1, le=16)
    power_step_db: Annotated[float, Field(gt=0.0)] = 3.0
    block_delay: Annotated[float, Field(ge=0.0)] = 0.0  # kappa_blk: + kappa n / B per hop (A14)
    degree_cap: DegreeCap = DegreeCap()
    at_hop_limit: Literal["process", "drop"] = "process"


class Energy(Strict):
    """xi J/cycle (Eq. 54–55), budgets per slot (C9: vehicle 0.5 J, C18–C19: node 33.2 J;
    soft: penalties, reading A28–A29)."""

    xi: Annotated[float, AfterValidator(_non_negative)] = 1e-6
    vehicle_budget: Joules = 0.5
    node_budget: Joules = 33.2


class Qos(Strict):
    """Eq. 48 weights (Sec. VI), Q_min (Table II), Q_max for Eq. 93 (reading A30)."""

    w_l: Weight = 0.7
    w_e: Weight = 0.3
    q_min: float = 60.0
    q_max: float = 700.0
    clip: Switch = True

    @model_validator(mode="after")
    def _range(self) -> Qos:
        if not self.q_max > self.q_min:
            raise ValueError(f"q_max {self.q_max} must exceed q_min {self.q_min}")
        return self


class OffloadReward(Strict):
    """Eq. 63–68 and Eq. 90–92 on normalised terms (L/rho, E/E_max, Q/Q_min; readings A31–A33).
    The paper gives orderings only: omega = (lat, ene, qos) incentives, lam = penalties,
    ``w_vehicle`` = (omega_L, omega_E, omega_Q) of Eq. 64, ``change_penalty`` for C13 (A25),
    ``load_penalty`` for C14b/C15 (A26); a subtask dropped at the hop limit enters the
    rewards with latency ``drop_latency`` x rho (it never ends; the paper has no drops)."""

    w_vehicle: tuple[Weight, Weight, Weight] = (1.0, 1.0, 1.0)
    zeta_tf: Weight = 1.0
    zeta_e: Weight = 1.0
    zeta_tp: Weight = 1.0
    alpha: tuple[Weight, Weight, Weight] = (1 / 3, 1 / 3, 1 / 3)  # eta, L, LB (Eq. 66)
    beta: tuple[Weight, Weight, Weight] = (1 / 3, 1 / 3, 1 / 3)  # TD, RU, QL (Eq. 67)
    omega: tuple[Weight, Weight, Weight] = (0.5, 0.2, 0.2)
    lam: tuple[Weight, Weight, Weight] = (0.5, 0.2, 0.2)
    change_penalty: Weight = 0.1
    max_change: Fraction = 0.5
    load_penalty: Weight = 0.1
    drop_latency: Annotated[float, Field(gt=0.0)] = 2.0  # a subtask dropped at the hop limit counts as L = 2 rho


class DigitalTwinCfg(Strict):
    """The digital twin of the agents (quantum-DRL Sec. V-A/B; ``desim_iov/digital_twin.py``).

    ``enabled: false`` is the paper's "without DT" ablation (reading A45): every agent sees only
    its local physical state (a relay its own exact f_cpu; others' f as nominal f_max, their
    queues unknown), no forecast. ``predictor`` forecasts every agent's next observed state
    o(t+1) from the last ``window`` slots: ``none`` ("without LSTM"), ``persistence``
    (o^(t+1) = o(t)), ``peephole_lstm`` (Eq. 69-73, trained by ``desim-iov dt train``, read from
    ``checkpoint``; ignored by the other predictors and without the DT, so an ablation may
    switch the predictor alone). ``sync_delay_slots`` k: the DT sees the agents' states k slots late
    (reading A47); the f^ estimates, queues and forecast inputs it serves are k slots old."""

    enabled: Switch = True
    predictor: Literal["none", "persistence", "peephole_lstm"] = "none"
    checkpoint: str | None = None
    window: Count = Field(8, ge=1, le=1024)
    sync_delay_slots: Count = Field(0, ge=0, le=1024)

    @model_validator(mode="after")
    def _checkpoint(self) -> DigitalTwinCfg:
        if self.predictor == "peephole_lstm" and not self.checkpoint:
            raise ValueError("predictor peephole_lstm needs a checkpoint (offload.dt.checkpoint: "
                             "DIR/dt_forecaster.pt written by `desim-iov dt train`)")
        return self


class Offload(Strict):
    """The ``offload:`` section (used when ``app: task_offloading``)."""

    tasks: Tasks = Tasks()
    links: Links = Links()
    network: Network = Network()
    energy: Energy = Energy()
    qos: Qos = Qos()
    reward: OffloadReward = OffloadReward()
    dt: DigitalTwinCfg = DigitalTwinCfg()


__all__ = ["Offload", "Hertz"]
