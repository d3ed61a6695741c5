"""Sweep files: a base scenario, a grid of overrides and seeds, expanded into pure jobs.

A sweep file (YAML, read with the strict safe loader of desim_iov/config/strict_yaml.py) says::

    scenario: twin-city        # a preset or a scenario file
    grid:                      # the product of these lists; keys are any `--set` key
      policy: [greedy, random]
      vehicles.count: [3, 5]
      duration: [60]
      variant:                 # a named axis: label -> overrides (the column holds the label;
        city: []               #   `scenario=NAME` among them switches the base scenario)
        rural: [scenario=twin-rural]
    seeds: [1, 2]              # or a count n: seeds 0 .. n-1
    set: [fidelity=packet]     # optional: overrides every run shares
    train: {episodes: 20}      # optional: the budget of learners (also a grid key: train.episodes)
    forecaster: {epochs: 40}   # optional: the digital twin's forecaster fit (quantum-DRL Alg. 1)
    evaluate:                  # optional: name -> overrides applied to evaluation only
      packet: [fidelity=packet]

Each point of the grid with each seed is one **run**: the scenario with the point's overrides and
``seed=<seed>``, simulated with its ``policy`` and summarised. When the policy is a learner (its
name in ``agents.registry.ALL_LEARNERS``) the run first needs a **training**: the learner trained
in slot fidelity with learner seed ``seed`` on the same scenario but scenario seed
``seed + TRAIN_SEED_OFFSET`` (so evaluation seeds are held out), for the budget ``train.episodes``
or ``train.updates``. Runs of several ``evaluate`` settings share one training: the training's
key ignores them. A learner that uses the digital twin's forecaster (the offloading learners
"with LSTM") on a scenario without one first needs a **fit**: the peephole LSTM fitted on
``min-latency`` traces of the same network (quantum-DRL Alg. 1; ``forecaster`` sets its
budget), one per network configuration, shared by every learner and seed trained on it.

Every job is keyed by a hash of its resolved parameters (the validated scenario as JSON, the
learner and its budget) and its seed: re-running the same sweep, a grown grid or more seeds finds
the finished records by key and runs only what is missing (ns-3 SEM's campaigns are the anchor).
Everything is validated here, before any job runs; errors are one line each, collected in one
:class:`SweepError`. Two grid points that resolve to the same scenario (the default point on two
curves of a figure) are one job whose record both rows share.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from desim_iov.config import strict_yaml

TRAIN_SEED_OFFSET = 1_000_000  # a learner's training scenario seed: the run's seed + this
BUDGET_KEYS = ("train.episodes", "train.updates")


class SweepError(ValueError):
    """A bad sweep file or job; ``str(e)`` names the file and every problem, one per line."""


class TrainBudget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    episodes: int | None = Field(None, ge=1, strict=True)
    updates: int | None = Field(None, ge=1, strict=True)
    threads: int = Field(1, ge=1, strict=True)  # torch CPU threads of a training


class FitBudget(BaseModel):
    """The forecaster fit of :func:`desim_iov.experiments.qdrl.fit_forecaster`."""

    model_config = ConfigDict(extra="forbid")
    runs: int = Field(3, ge=1, strict=True)  # min-latency traces (seeds 500 + k)
    duration: float = Field(4.0, gt=0)  # simulated seconds per trace
    epochs: int = Field(40, ge=1, strict=True)  # at most (early stopping)


class SweepSpec(BaseModel):
    """The validated content of a sweep file (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    title: str = ""
    scenario: str
    grid: dict[str, list[Any] | dict[str, list[str]]] = {}
    seeds: list[int] | int = 1
    set: list[str] = []
    train: TrainBudget = TrainBudget()
    forecaster: FitBudget = FitBudget()
    evaluate: dict[str, list[str]] = {}

    @field_validator("grid")
    @classmethod
    def _grid(cls, g: dict[str, Any]) -> dict[str, Any]:
        for k, values in g.items():
            if not values:
                raise ValueError(f"grid key {k!r} has no values")
            if isinstance(k, str) and k.startswith("train.") and k not in BUDGET_KEYS:
                raise ValueError(f"grid key {k!r}: a training budget is one of {', '.join(BUDGET_KEYS)}")
            if isinstance(values, dict) and k in BUDGET_KEYS:
                raise ValueError(f"grid key {k!r}: a budget takes a list of integers")
        return g

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, s: list[int] | int) -> list[int] | int:
        if isinstance(s, int) and s < 1:
            raise ValueError(f"a seed count must be >= 1, got {s}")
        if isinstance(s, list) and (not s or len(set(s)) != len(s) or min(s) < 0):
            raise ValueError("seeds must be distinct integers >= 0")
        return s

    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def shipped_sweeps() -> list[str]:
    """The sweep definitions shipped in desim_iov/sweeps/ (the experiments of both papers)."""
    from importlib import resources

    files = resources.files("desim_iov").joinpath("sweeps").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".yaml"))


def load_sweep(ref: str | Path) -> SweepSpec:
    """Read and validate a sweep file, or a shipped definition by name (:func:`shipped_sweeps`);
    one-line :class:`SweepError` on any problem."""
    p = Path(ref)
    if not p.exists() and str(ref) in shipped_sweeps():
        from importlib import resources

        text = resources.files("desim_iov").joinpath("sweeps", f"{ref}.yaml").read_text()
        return sweep_from_dict(strict_yaml.load(text), f"sweep {ref}")
    try:
        data = strict_yaml.load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"sweep {str(ref)!r}: no such file or shipped sweep ({', '.join(shipped_sweeps())})") from None
    except OSError as e:
        raise SweepError(f"{p}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise SweepError(f"{p}: not UTF-8 text: {e.reason} at byte {e.start}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise SweepError(f"{p}{where}: malformed YAML: {getattr(e, 'problem', None) or e}") from None
    return sweep_from_dict(data, str(p))


def sweep_from_dict(data: Any, source: str = "sweep") -> SweepSpec:
    if not isinstance(data, dict):
        raise SweepError(f"{source}: a sweep must be a YAML mapping with 'scenario', 'grid' and 'seeds'")
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        where = ".".join(str(x) for x in err["loc"]) or "(sweep)"
        raise SweepError(f"{source}: field {where!r}: {err['msg'].removeprefix('Value error, ')}") from None


def _value_text(v: Any) -> str:
    """A grid value as the text of a ``--set key=value`` (JSON is YAML: round-trips exactly)."""
    return json.dumps(v, sort_keys=True)


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class FitTask:
    """Fit the digital twin's forecaster on ``base`` + ``overrides`` (the network of a training);
    writes ``out_dir``."""

    key: str
    base: str
    overrides: tuple[str, ...]
    runs: int
    duration: float
    epochs: int
    out_dir: str
    seed: int = -1  # (no replication seed: one fit per network)

    def describe(self) -> str:
        return "fit the forecaster"


@dataclass(frozen=True)
class TrainTask:
    """Train ``learner`` (slot fidelity) on ``base`` + ``overrides``; writes ``out_dir``."""

    key: str
    learner: str
    base: str
    overrides: tuple[str, ...]
    seed: int  # the learner's seed (the training scenario's seed is seed + TRAIN_SEED_OFFSET)
    episodes: int | None
    updates: int | None
    threads: int
    out_dir: str
    fit: str | None = None  # the FitTask's key, for a learner that needs a fitted forecaster

    def describe(self) -> str:
        return f"train {self.learner} seed {self.seed}"


@dataclass(frozen=True)
class RunTask:
    """Simulate ``base`` + ``overrides`` (seed included) with its policy and summarise the trace;
    a learner's run reads the checkpoint of training ``after``."""

    key: str
    base: str
    overrides: tuple[str, ...]
    seed: int
    point: tuple[tuple[str, Any], ...]  # the grid values of this run (results columns)
    setting: str  # the `evaluate` setting ("" without one)
    policy: str
    after: str | None  # the TrainTask's key, for a learner
    out_dir: str

    def describe(self) -> str:
        shown = " ".join(f"{k}={v}" for k, v in self.point)
        return f"{self.policy} {shown} seed {self.seed}{' ' + self.setting if self.setting else ''}".strip()


@dataclass
class Expanded:
    """The jobs of a sweep: forecaster fits and trainings by key, runs in grid order."""

    fits: dict[str, FitTask] = field(default_factory=dict)
    trains: dict[str, TrainTask] = field(default_factory=dict)
    runs: list[RunTask] = field(default_factory=list)


def expand(spec: SweepSpec, out: str | Path) -> Expanded:
    """Every job of ``spec`` under ``out`` (``out/train/<key>``, ``out/runs/<key>``), each scenario
    validated and each policy checked against its app's registry. All problems are collected
    into one :class:`SweepError` (the first 10 shown)."""
    from agents.registry import ALL_LEARNERS, table_of
    from desim_iov.config import ConfigError, load_scenario

    out = Path(out)
    keys = list(spec.grid)
    problems: list[str] = []
    result = Expanded()
    settings = spec.evaluate or {"": []}
    for values in itertools.product(*(list(spec.grid[k]) for k in keys)):
        point = tuple(zip(keys, values, strict=True))
        budget = spec.train.model_dump()
        sets, base = list(spec.set), spec.scenario
        for k, v in point:
            if k in BUDGET_KEYS:
                budget[k.removeprefix("train.")] = v
            elif isinstance(spec.grid[k], dict):  # a named axis: its label's overrides
                for o in spec.grid[k][v]:
                    if o.startswith("scenario="):
                        base = o.removeprefix("scenario=")
                    else:
                        sets.append(o)
            else:
                sets.append(f"{k}={_value_text(v)}")
        shown = " ".join(f"{k}={v}" for k, v in point) or "(base)"
        for seed in spec.seed_list():
            for name, extra in settings.items():
                try:
                    sc = load_scenario(base, [*sets, *extra, f"seed={seed}"])
                except ConfigError as e:
                    problems.append(f"{shown}{' ' + name if name else ''}: {e}")
                    continue
                policy = sc.policy.name
                if policy not in table_of(sc.app):
                    problems.append(f"{shown}: unknown policy {policy!r} for app {sc.app} "
                                    f"(allowed: {', '.join(sorted(table_of(sc.app)))})")
                    continue
                after = None
                if policy in ALL_LEARNERS and ALL_LEARNERS[policy].app == sc.app:
                    eps, upd = budget.get("episodes"), budget.get("updates")
                    bad = [f"{k}={v!r}" for k, v in (("episodes", eps), ("updates", upd))
                           if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1)]
                    if bad or (eps is None) == (upd is None):
                        problems.append(f"{shown}: learner {policy!r} needs exactly one budget, train.episodes "
                                        f"or train.updates, an integer >= 1 (got {', '.join(bad) or 'none or both'})")
                        continue
                    train_sets = (*sets, "fidelity=slot", f"seed={seed + TRAIN_SEED_OFFSET}")
                    try:
                        tsc = load_scenario(base, list(train_sets))
                    except ConfigError as e:
                        problems.append(f"{shown} (training): {e}")
                        continue
                    after = digest({"job": "train", "learner": policy, "scenario": tsc.model_dump(mode="json"),
                                    "episodes": eps, "updates": upd, "seed": seed})
                    if after not in result.trains:
                        fit = _fit_task(spec, base, sets, tsc, policy, out, result)
                        result.trains[after] = TrainTask(after, policy, base, train_sets, seed, eps, upd,
                                                         int(budget["threads"]), str(out / "train" / after[:16]),
                                                         fit)
                key = digest({"job": "run", "scenario": sc.model_dump(mode="json"), "train": after})
                result.runs.append(RunTask(key, base, (*sets, *extra, f"seed={seed}"), seed, point, name,
                                           policy, after, str(out / "runs" / key[:16])))
    problems = list(dict.fromkeys(problems))  # one line per problem, not per seed
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise SweepError(f"{len(problems)} problem(s) in the sweep; nothing was run:\n  "
                         + "\n  ".join(problems[:10]) + more)
    return result


def _fit_task(spec: SweepSpec, base: str, sets: list[str], tsc: Any, learner: str, out: Path,
              result: Expanded) -> str | None:
    """The key of the forecaster fit a training of ``learner`` on ``tsc`` needs (added to
    ``result.fits``), or None. The fit's scenario is the training's with what the fit sets
    itself (policy, fidelity, duration, seed, no forecaster) fixed, so every learner and seed
    trained on one network shares one fit."""
    from agents.registry import ALL_LEARNERS
    from desim_iov.config import load_scenario

    if not ALL_LEARNERS[learner].forecast or tsc.app != "task_offloading" or tsc.offload.dt.predictor != "none":
        return None
    fixed = ["policy=min-latency", "fidelity=slot", f"duration={spec.forecaster.duration} s", "seed=500",
             "offload.dt.predictor=none", "offload.dt.checkpoint=null"]
    fsc = load_scenario(base, [*sets, *fixed])
    key = digest({"job": "fit", "scenario": fsc.model_dump(mode="json"), **spec.forecaster.model_dump()})
    if key not in result.fits:
        f = spec.forecaster
        result.fits[key] = FitTask(key, base, (*sets, "policy=min-latency"), f.runs, f.duration, f.epochs,
                                   str(out / "fit" / key[:16]))
    return key
