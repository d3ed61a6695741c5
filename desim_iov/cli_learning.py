"""The learning commands of ``desim-iov`` (``train``, ``eval``, ``experiment``, ``dt train``);
desim_iov/cli.py builds the parser and holds the shared helpers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desim_iov.cli import CliError, _run_summary, _scenario, _simulate, default_trace_name


def _cmd_experiment(args: argparse.Namespace) -> int:
    from analysis.experiment_results import summarise
    from desim_iov.experiments.twin_migration import run_experiment

    if args.experiment.startswith("qdrl-"):
        from desim_iov.experiments.qdrl_figs import run_figure

        try:
            lines = run_figure(args.experiment, Path(args.out), seeds=args.seeds, episodes=args.episodes or 1000,
                               overrides=list(args.set or []), progress=not args.quiet,
                               workers=args.workers or 2, backend=args.backend)
        except (KeyError, ValueError, RuntimeError) as e:
            raise CliError(str(e).strip("\"'")) from None
        print("\n".join(lines))
        print(f"results: {Path(args.out) / args.experiment.removeprefix('qdrl-')}")
        return 0

    if args.experiment == "offload-heuristics":
        from desim_iov.experiments.offloading import POLICIES, run_heuristics

        try:
            df = run_heuristics(Path(args.out), seeds=args.seeds, overrides=list(args.set or []),
                                policies=tuple(args.algorithms or POLICIES), progress=not args.quiet,
                                backend=args.backend, workers=args.workers)
        except KeyError as e:
            raise CliError(str(e).strip("\"'")) from None
        print(df.drop(columns="seed").groupby("policy", sort=False).mean().to_string(
            float_format=lambda v: f"{v:.4g}"))
        print(f"results: {Path(args.out) / 'results.csv'}")
        return 0

    try:
        overrides = list(args.set or [])
        if args.data is not None:
            overrides.append(f"data_dir={Path(args.data).resolve()}")
        df = run_experiment(args.experiment, Path(args.out), seeds=args.seeds, updates=args.updates,
                            algorithms=args.algorithms, variants=args.variants,
                            overrides=overrides, progress=not args.quiet,
                            episodes=args.episodes, backend=args.backend, workers=args.workers,
                            scheduler=args.scheduler)
    except (KeyError, ValueError, RuntimeError) as e:  # a failed job (JobFailed) is a RuntimeError
        raise CliError(str(e).strip("\"'")) from None
    print(summarise(df).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"results: {Path(args.out) / 'results.csv'}")
    return 0


def _learning():
    try:
        from agents import train as learning
    except ImportError as e:
        raise CliError(f"learning agents are not available ({e})") from None
    return learning


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from desim_iov.env import NonFiniteError, parallel_env

    learning = _learning()
    torch.set_num_threads(args.threads)  # small nets: more threads only oversubscribe the CPU
    scenario = _scenario(args, f"fidelity={args.fidelity}")
    out = Path(args.out or f"runs/train-{args.agent}-{scenario.name}-seed{scenario.seed}")
    if args.envs:  # before any forecaster is fitted for the learner
        from desim_iov.vector.env import MODELS

        if scenario.app not in MODELS:
            raise CliError(f"--envs: no batched slot model for app {scenario.app!r} "
                           f"(batched: {', '.join(MODELS)})")
        from agents.registry import ALL_LEARNERS, BATCHED_ROLLOUTS

        if args.agent not in BATCHED_ROLLOUTS:  # e.g. qdrl: Alg. 3 plays the scalar env's DT model
            raise CliError(f"--envs: learner {args.agent!r} collects its rollouts from the scalar env "
                           f"(batched rollouts: {', '.join(BATCHED_ROLLOUTS)})")
        lr = ALL_LEARNERS.get(args.agent)
        if lr is not None and lr.forecast and scenario.offload.dt.predictor == "none":
            raise CliError(f"--envs: {args.agent} would get a peephole LSTM forecaster fitted now, which the "
                           "batched env does not run; pass --set offload.dt.predictor=persistence (or none)")
    scenario = _learner_scenario(learning, args.agent, scenario, out, args.quiet)
    env_fn, hyper = (lambda: parallel_env(scenario)), {}
    if args.envs:
        env_fn, hyper = _batched(learning, args, scenario)
    try:
        ckpt = learning.train(args.agent, env_fn, updates=args.updates, seed=scenario.seed, out_dir=out,
                              resume=args.resume, progress=not args.quiet, **hyper)
    except KeyError as e:
        raise CliError(str(e).strip("\"'")) from None
    except (learning.TrainingDiverged, NonFiniteError) as e:
        raise CliError(f"training stopped: {e}") from None
    print(f"checkpoint: {ckpt}")
    print(f"learning curve: {out / 'learning_curve.csv'}")
    return 0


def _batched(learning, args: argparse.Namespace, scenario):
    """``train --envs N``: the batched slot env (desim_iov/vector) for the rollouts, N episodes
    at a time; a learner that asks for fewer episodes per update gets N (said on stderr)."""
    from desim_iov.vector.env import batched_env

    if args.envs < 1:
        raise CliError(f"--envs {args.envs}: the number of batched episodes must be >= 1")
    if args.fidelity != "slot":
        raise CliError("--envs runs the batched slot env: drop --fidelity packet")
    try:
        batched_env(scenario, 1)  # its one-line errors now (an app without a batched model)
        per_update = learning.make_config(args.agent).episodes_per_update
    except (ValueError, KeyError) as e:
        raise CliError(f"--envs: {str(e).strip(chr(34) + chr(39))}") from None
    hyper = {}
    if per_update < args.envs and not args.resume:
        print(f"{args.agent}: {args.envs} batched episodes per rollout, so episodes_per_update "
              f"{per_update} -> {args.envs}", file=sys.stderr)
        hyper["episodes_per_update"] = args.envs
    return (lambda: batched_env(scenario, args.envs, autoreset_mode="Disabled")), hyper


def _learner_scenario(learning, agent: str, scenario, out: Path, quiet: bool):
    """The scenario as ``agent`` trains on it (its variant's settings); a learner that uses the
    digital twin's forecaster on a scenario without one gets one fitted first (Alg. 1, into
    OUT/dt), and says so."""
    from agents.registry import ALL_LEARNERS

    if agent not in ALL_LEARNERS:
        return scenario
    try:
        scenario = learning.scenario_for(agent, scenario)
    except ValueError as e:
        raise CliError(str(e)) from None
    if ALL_LEARNERS[agent].forecast and scenario.offload.dt.predictor == "none":
        from desim_iov.experiments.qdrl import fit_forecaster, with_forecaster

        print(f"{agent} uses the digital twin's forecaster and the scenario has none: fitting the peephole "
              f"LSTM first (Alg. 1) into {out / 'dt'}", file=sys.stderr)
        scenario = with_forecaster(scenario, fit_forecaster(scenario, out / "dt", progress=not quiet))
    return scenario


def _cmd_eval(args: argparse.Namespace) -> int:  # safe: `desim-iov eval`, no Python eval
    learning = _learning()
    scenario = _scenario(args, f"fidelity={args.fidelity}")
    if not Path(args.checkpoint).is_file():
        raise CliError(f"{args.checkpoint}: no such checkpoint")
    try:
        policy = learning.load_policy(args.agent, args.checkpoint, scenario)
    except (KeyError, ValueError) as e:
        msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)  # no KeyError quotes
        raise CliError(msg if args.checkpoint in msg else f"{args.checkpoint}: {msg}") from None
    out = Path(args.out or default_trace_name(f"eval-{args.agent}-{scenario.name}-seed{scenario.seed}", args))
    _simulate(scenario, policy, out, args.quiet, {"checkpoint": str(args.checkpoint)}, force=args.force)
    if not args.quiet:
        print(_run_summary(scenario, out, f"{scenario.name}, {args.agent}, seed {scenario.seed}"))
    print(f"trace: {out}")
    return 0


def _cmd_dt(args: argparse.Namespace) -> int:
    """``dt train``: the digital twin's peephole LSTMs from traces (desim_iov/experiments/dt_forecast.py)."""
    import torch

    from desim_iov.experiments.dt_forecast import format_metrics, train_from_traces
    from models.dt_train import DTTrainConfig

    torch.set_num_threads(max(1, args.threads))
    try:
        cfg = DTTrainConfig(epochs=args.epochs, batch_size=args.batch, patience=args.patience, seed=args.seed,
                            hidden=args.hidden, layers=args.layers, dropout=args.dropout,
                            peephole=args.peephole, eta_w=args.eta_w,
                            var_sign=float(args.var_sign), progress=not args.quiet)
        report = train_from_traces(args.traces, args.out, cfg, window=args.window,
                                   holdout_traces=args.holdout_traces)
    except ValueError as e:  # unreadable traces, traces of several networks, too short
        raise CliError(str(e)) from None
    print(format_metrics(report))
    out = Path(args.out)
    for name in ("dt_forecaster.pt", "metrics.json", "dt_loss_curves.png"):
        print(out / name)
    return 0
