"""``desim-iov``: the composition root (the only kernel module that imports agents)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from desim_iov import __version__
from desim_iov.cli_types import non_negative_int, positive_int
from desim_iov.config import ConfigError, load_scenario, preset_names
from traces.errors import TraceFormatError
from traces.reader import TraceError
from traces.writer import TraceWriteError


class CliError(Exception):
    """Bad input: printed as one line, exit code 2."""


def _git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _simulate(scenario, policy, out: Path, quiet: bool, provenance: dict | None = None, force: bool = False) -> None:
    """Run one simulation into ``out`` with a progress bar over simulated time; a run whose
    expected event count is large is announced, and refused beyond the limit unless ``force``
    (desim_iov/estimate.py)."""
    from tqdm import tqdm

    from desim_iov.estimate import check_cost
    from desim_iov.provenance import input_digests
    from desim_iov.sim import make_simulation

    try:
        cost = check_cost(scenario, force=force)
    except ValueError as e:
        raise CliError(str(e)) from None
    if cost:
        print(cost, file=sys.stderr)

    prov = {"desim_iov_version": __version__, "git_sha": _git_sha(),
            "inputs": input_digests(scenario)}
    prov.update(provenance or {})
    try:  # checked first, so that an OSError of the inputs is not blamed on the trace
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"{out}: cannot write the trace: {e}") from None
    if out.is_dir() or not os.access(out if out.exists() else out.parent, os.W_OK):
        raise CliError(f"{out}: cannot write the trace (a directory, or no write permission)")
    sim = make_simulation(scenario, policy, trace_path=str(out), provenance=prov)
    report = sim.world.import_report
    if report and (not quiet or "malformed" in report or "WARNING" in report):
        # what the importer removed is shown even with --quiet when input lines were bad
        label = "vehicles" if scenario.vehicles.mobility == "sumo" else "vehicle trace"
        print(f"{label}: {report}", file=sys.stderr)
    with tqdm(
        total=scenario.duration,
        unit="sim-s",
        desc=f"{scenario.name}/{getattr(policy, 'name', '?')}",
        disable=quiet,
        bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} sim-s [{elapsed}<{remaining}]",
    ) as bar:
        sim.run(progress=lambda t: bar.update(t - bar.n))


def _make_policy(name: str, params: dict, scenario=None):
    from agents.base import make_policy
    from agents.registry import ALL_LEARNERS

    app = scenario.app if scenario is not None else "twin_migration"
    if name in ALL_LEARNERS and scenario is not None and ALL_LEARNERS[name].app == app:
        params = {**params, "scenario": scenario}  # a checkpoint is read for this scenario
    try:
        return make_policy(name, app=app, **params)
    except KeyError as e:
        raise CliError(str(e).strip("\"'")) from None


def _run_summary(scenario, out: Path, title: str) -> str:
    """The terminal summary of a trace just written, by the scenario's app."""
    if scenario.app == "task_offloading":
        from analysis.offload_summary import format_offload_summary, summarize_offload

        return format_offload_summary(summarize_offload(out), title)
    from analysis.summary import format_summary, summarize

    return format_summary(summarize(out), title)


def _cmd_run(args: argparse.Namespace) -> int:
    scenario = _scenario(args)
    tr = scenario.vehicles.trace
    if tr and not tr.startswith("data:") and not Path(tr).is_absolute():
        # recorded absolute, so that `replay` finds it from anywhere
        vehicles = scenario.vehicles.model_copy(
            update={"trace": str(Path(scenario.vehicles.trace).resolve())})
        scenario = scenario.model_copy(update={"vehicles": vehicles})
    scenario = _absolute_sumo_files(scenario)
    policy = _make_policy(scenario.policy.name, scenario.policy.params, scenario)
    out = Path(args.out or default_trace_name(f"{scenario.name}-{scenario.policy.name}-seed{scenario.seed}", args))
    _simulate(scenario, policy, out, args.quiet, force=args.force)
    if not args.quiet:
        title = (
            f"{scenario.name}, policy {scenario.policy.name}, seed {scenario.seed}, "
            f"{scenario.duration:g} s simulated"
        )
        print(_run_summary(scenario, out, title))
    print(f"trace: {out}")
    return 0


def default_trace_name(stem: str, args: argparse.Namespace) -> str:
    """``runs/STEM.h5``, with a short hash of the ``--set`` overrides and ``--duration`` when
    there are any, so that runs differing only in overrides do not overwrite each other."""
    import hashlib

    extra = [*(args.set or []), *([f"duration={args.duration}"] if getattr(args, "duration", None) else [])]
    if not extra:
        return f"runs/{stem}.h5"
    return f"runs/{stem}-{hashlib.sha256(chr(10).join(extra).encode()).hexdigest()[:8]}.h5"


def _absolute_sumo_files(scenario):
    """The user's SUMO network and route files recorded absolute (as a vehicle trace is)."""
    su = scenario.vehicles.sumo

    def absolute(value: str) -> str:
        if value in ("grid", "random") or value.startswith("data:") or Path(value).is_absolute():
            return value
        return str(Path(value).resolve())

    routes = ",".join(absolute(r) for r in su.route_files()) or su.routes
    update = {k: v for k, v in (("net", absolute(su.net)), ("routes", routes)) if v != getattr(su, k)}
    if not update:
        return scenario
    vehicles = scenario.vehicles.model_copy(update={"sumo": su.model_copy(update=update)})
    return scenario.model_copy(update={"vehicles": vehicles})


def _cmd_replay(args: argparse.Namespace) -> int:
    from analysis.totals import trace_totals
    from desim_iov.provenance import changed_inputs
    from desim_iov.replay import (
        check_replayable,
        compare_traces,
        default_replay_path,
        recorded_policy,
        scenario_of,
    )
    from traces.reader import open_trace

    src = Path(args.trace)
    trace = open_trace(src, allow_incomplete=False)
    check_replayable(trace)
    scenario = scenario_of(trace)
    if args.data is not None:
        scenario = scenario.model_copy(update={"data_dir": str(Path(args.data).resolve())})
    if "inputs" in trace.attrs:  # the same exogenous inputs, or no replay
        changed = changed_inputs(trace.attrs["inputs"], scenario)
        if changed:
            raise CliError(f"{src}: the run's input files changed ({'; '.join(changed)}); "
                           "point --data at the original data")
    if args.policy is None:  # exact replay of the recorded decisions
        out = Path(args.out) if args.out else default_replay_path(src, "replay")
        _simulate(scenario, recorded_policy(trace), out, args.quiet, {"replay_of": str(src)}, force=True)
        cmp = compare_traces(trace, open_trace(out))
        for line in cmp.lines():
            print(line)
        print(f"trace: {out}")
        return 0 if cmp.identical else 1
    # what-if: the same exogenous inputs under another policy (a learned one: --checkpoint)
    params = {"checkpoint": args.checkpoint} if args.checkpoint else {}
    policy = _make_policy(args.policy, params, scenario)
    out = Path(args.out) if args.out else default_replay_path(src, args.policy)
    scenario = scenario.model_copy(update={"policy": scenario.policy.model_copy(
        update={"name": args.policy, "params": params})})
    _simulate(scenario, policy, out, args.quiet, {"what_if_of": str(src)}, force=True)
    before, after = trace_totals(trace), trace_totals(open_trace(out))
    name_a = trace.attrs.get("policy", "recorded")
    print(f"{'metric':<26} {name_a:>14} {args.policy:>14} {'change':>10}")
    for k, va in before.items():
        vb = after[k]
        rel = (vb - va) / abs(va) * 100 if va else float("nan")
        print(f"{k:<26} {va:>14.6g} {vb:>14.6g} {rel:>9.1f}%")
    print(f"trace: {out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import write_report

    for f in write_report(args.traces, args.out):
        print(f)
    return 0


def _cmd_trace_repair(args: argparse.Namespace) -> int:
    from traces.repair import RepairError, repair_trace

    failed = 0
    for path in args.traces:
        try:
            print(repair_trace(path))
        except RepairError as e:
            print(f"desim-iov: error: {e}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


def _scenario(args: argparse.Namespace, *first: str):
    """The scenario named by ``--scenario`` with ``first``, ``--set`` and the common options
    (``--seed``, ``--duration``, ``--policy``, ``--data`` where the command has them)."""
    overrides = [*first, *(args.set or [])]
    for opt, key in (("duration", "duration"), ("seed", "seed"), ("policy", "policy.name")):
        if getattr(args, opt, None) is not None:
            overrides.append(f"{key}={getattr(args, opt)}")
    if getattr(args, "data", None) is not None:
        overrides.append(f"data_dir={Path(args.data).resolve()}")
    scenario = load_scenario(args.scenario, overrides)
    if scenario.data_dir is None:  # record where 'data:' paths resolved, for replay
        from desim_iov.config import data_root

        scenario = scenario.model_copy(update={"data_dir": str(data_root(scenario).resolve())})
    return scenario


def _cmd_forecast(args: argparse.Namespace) -> int:
    from desim_iov.experiments.forecast import main as table_main

    try:
        return int(table_main(args.rest))
    except ValueError as e:  # missing or malformed PeMS data
        raise CliError(str(e)) from None


def _cmd_scenarios(args: argparse.Namespace) -> int:
    for name in preset_names():
        print(f"{name:<20} {load_scenario(name).description}")
    return 0


def _cmd_policies(args: argparse.Namespace) -> int:
    from agents.base import policy_names
    from agents.registry import POLICY_TABLES

    for app in POLICY_TABLES:
        print(f"app {app}:")
        for name, text in policy_names(app).items():
            print(f"  {name:<18} {text}")
    return 0


DATA_HELP = "data directory for 'data:' paths (default $DESIM_IOV_DATA, else ../shared/data)"


def build_parser() -> argparse.ArgumentParser:
    from desim_iov.cli_learning import _cmd_dt, _cmd_eval, _cmd_experiment, _cmd_train

    p = argparse.ArgumentParser(
        prog="desim-iov", description="Packet-level simulator of 6G vehicular edge networks."
    )
    from desim_iov.experiments.runner import add_backend_options

    p.add_argument("--version", action="version", version=f"desim-iov {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario and write its HDF5 trace")
    r.add_argument("--scenario", default="twin-city", help="preset name or YAML file")
    r.add_argument("--policy", help="policy name (see `desim-iov policies`)")
    r.add_argument("--duration", help="simulated time, seconds or e.g. '10 min'")
    r.add_argument("--seed", type=non_negative_int, help="root random seed")
    r.add_argument("--out", help="trace file (default runs/<scenario>-<policy>-seed<N>[-<hash of the --set "
                   "overrides>].h5)")
    r.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a scenario field"
    )
    r.add_argument("--data", help=DATA_HELP)
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    r.add_argument("--force", action="store_true", help="run even when the expected event count is beyond "
                   "the limit (desim_iov/estimate.py)")
    r.set_defaults(func=_cmd_run)

    rp = sub.add_parser(
        "replay",
        help="re-run a trace's scenario and decisions (exit 1 if anything differs), "
        "or with --policy the same inputs under another policy",
    )
    rp.add_argument("trace", help="a trace written by `desim-iov run`")
    rp.add_argument("--policy", help="what-if: this policy instead of the recorded decisions")
    rp.add_argument("--checkpoint", help="with --policy NAME of a learned agent: its checkpoint")
    rp.add_argument("--out", help="new trace (default TRACE.replay.h5 or TRACE.<policy>.h5)")
    rp.add_argument("--data", help=DATA_HELP)
    rp.add_argument("--quiet", action="store_true", help="no progress bar")
    rp.set_defaults(func=_cmd_replay)

    rep = sub.add_parser("report", help="tables and figures over one or more traces")
    rep.add_argument("traces", nargs="+", help="trace files")
    rep.add_argument("--out", required=True, help="output directory")
    rep.set_defaults(func=_cmd_report)

    tr = sub.add_parser("train", help="train a learning agent (slot fidelity by default)")
    tr.add_argument("--agent", required=True, help="dm-mappo, mappo, masac, masac-nomask")
    tr.add_argument("--scenario", default="twin-city")
    tr.add_argument("--updates", type=positive_int, default=200)
    tr.add_argument("--seed", type=non_negative_int)
    tr.add_argument("--fidelity", default="slot", choices=["slot", "packet"])
    tr.add_argument("--out", help="run directory (learning_curve.csv, checkpoint.pt)")
    tr.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    tr.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    tr.add_argument("--envs", type=non_negative_int, default=0, metavar="N",
                    help="collect rollouts from the batched slot env, N episodes at a time "
                    "(twin-migration learners; default: the scalar env)")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE")
    tr.add_argument("--data", help=DATA_HELP)
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser("eval", help="evaluate a trained agent, writing a trace")
    ev.add_argument("--agent", required=True)
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--scenario", default="twin-city")
    ev.add_argument("--fidelity", default="packet", choices=["slot", "packet"])
    ev.add_argument("--seed", type=non_negative_int)
    ev.add_argument("--out", help="trace file")
    ev.add_argument("--set", action="append", metavar="KEY=VALUE")
    ev.add_argument("--data", help=DATA_HELP)
    ev.add_argument("--quiet", action="store_true")
    ev.add_argument("--force", action="store_true", help="run even when the expected event count is beyond the limit")
    ev.set_defaults(func=_cmd_eval)

    ex = sub.add_parser("experiment", help="the twin-migration paper's Figs. 6-9; the offloading "
                        "heuristics side by side (offload-heuristics); the quantum-DRL paper's Figs. 3-7 "
                        "(qdrl-fig3 ... qdrl-fig7: --episodes is the training budget, default 1000)")
    ex.add_argument("experiment", choices=["fig6", "fig7", "fig8", "fig9", "offload-heuristics",
                                           "qdrl-fig3", "qdrl-fig4", "qdrl-fig5", "qdrl-fig6", "qdrl-fig7"])
    ex.add_argument("--out", required=True)
    ex.add_argument("--seeds", type=positive_int, default=3)
    ex.add_argument("--updates", type=positive_int, default=200, help="training updates per learner")
    ex.add_argument("--episodes", type=positive_int, help="training budget per learner in episodes "
                    "(overrides --updates; the same number of samples for every learner)")
    ex.add_argument("--algorithms", nargs="*")
    ex.add_argument("--variants", nargs="*")
    ex.add_argument("--set", action="append", metavar="KEY=VALUE")
    ex.add_argument("--data", help=DATA_HELP)
    ex.add_argument("--quiet", action="store_true")
    add_backend_options(ex)
    ex.add_argument("--scheduler", help="with --backend dask: join this Dask scheduler (fig6-fig9)")
    ex.set_defaults(func=_cmd_experiment)

    fc = sub.add_parser(
        "forecast",
        help="workload forecasting: `forecast table [--epochs N] [--seeds K] [--out DIR]` "
        "regenerates Table II (see `desim-iov forecast table --help`)",
    )
    fc.add_argument("what", choices=["table"])
    fc.add_argument("rest", nargs=argparse.REMAINDER, help="options of the table command")
    fc.set_defaults(func=_cmd_forecast)

    dt = sub.add_parser("dt", help="the task-offloading digital twin: `dt train TRACES... --out DIR` "
                        "fits its peephole LSTMs on traces' /dt_states")
    dts = dt.add_subparsers(dest="dt_command", required=True)
    dtt = dts.add_parser("train", help="train one peephole LSTM per agent kind (Alg. 1)")
    dtt.add_argument("traces", nargs="+", help="task-offloading traces (one network size)")
    dtt.add_argument("--out", required=True, help="directory: dt_forecaster.pt, metrics.json, curves")
    dtt.add_argument("--epochs", type=positive_int, default=1000, help="at most (early stopping, default 1000)")
    dtt.add_argument("--batch", type=positive_int, default=64)
    dtt.add_argument("--window", type=positive_int, default=8, help="slots of history (offload.dt.window)")
    dtt.add_argument("--patience", type=positive_int, default=20, help="epochs without validation gain")
    dtt.add_argument("--seed", type=non_negative_int, default=0)
    dtt.add_argument("--hidden", type=positive_int, default=128, help="units per layer (Sec. VI: 128)")
    dtt.add_argument("--layers", type=positive_int, default=3, help="LSTM layers (Sec. VI: 3)")
    dtt.add_argument("--dropout", type=float, default=0.3, help="between LSTM layers (Sec. VI: 0.3)")
    dtt.add_argument("--peephole", default="diagonal", choices=["diagonal", "full"])
    dtt.add_argument("--eta-w", type=float, default=0.01, help="Eq. 74 variance weight (default 0.01)")
    dtt.add_argument("--var-sign", type=int, default=1, choices=[1, -1],
                     help="+1: Eq. 74 as printed (penalises spread); -1: rewards it (the text)")
    dtt.add_argument("--holdout-traces", type=non_negative_int, default=0,
                     help="test on the last K traces (default: the last 15 %% of each)")
    dtt.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    dtt.add_argument("--quiet", action="store_true")
    dtt.set_defaults(func=_cmd_dt)

    tp = sub.add_parser("trace", help="trace file tools")
    tsub = tp.add_subparsers(dest="trace_command", required=True)
    trp = tsub.add_parser("repair", help="make the trace of a killed run (kill -9, crash) readable by pandas and "
                          "plain HDF5 readers: clears the file's consistency flags, as HDF5's h5clear -s does")
    trp.add_argument("traces", nargs="+")
    trp.set_defaults(func=_cmd_trace_repair)

    from desim_iov.cli_sweep import add_sweep_parser

    add_sweep_parser(sub)

    s = sub.add_parser("scenarios", help="list the preset scenarios")
    s.set_defaults(func=_cmd_scenarios)
    q = sub.add_parser("policies", help="list the policies")
    q.set_defaults(func=_cmd_policies)
    return p


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"desim-iov: warning: {message}", file=file or sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM (what batch schedulers and ``kill`` send), raised where the program is, so that
    it unwinds like Ctrl-C: traces closed and marked incomplete, checkpoints and sweep records
    as they were."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading
    import warnings

    warnings.showwarning = _one_line_warning
    args = build_parser().parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args))
    except (ConfigError, CliError, TraceError, TraceFormatError) as e:
        print(f"desim-iov: error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        print("desim-iov: terminated (SIGTERM; trace left marked incomplete)", file=sys.stderr)
        return 143
    except TraceWriteError as e:
        # HDF5 cannot close a file whose writes failed, and would crash tearing its objects
        # down at exit: say it in one line and leave now (the file stays marked incomplete)
        print(f"desim-iov: error: {e}", file=sys.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(2)
    except OSError as e:  # the file system (a full disk, an unwritable or vanished output): one line
        where = f"{e.filename}: " if e.filename else ""
        print(f"desim-iov: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("desim-iov: interrupted (trace left marked incomplete)", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # `python -m desim_iov.cli`: run the imported module's main, so that the
    from desim_iov.cli import main as _main  # other modules' `CliError` is the one caught here

    sys.exit(_main())
