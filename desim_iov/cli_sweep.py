"""``desim-iov sweep SWEEP.yaml --out DIR``: a grid of runs x seeds, resumable, on a local
process pool or a Dask cluster (desim_iov/sweep/)."""

from __future__ import annotations

import argparse
import sys

from desim_iov.cli import CliError
from desim_iov.cli_types import positive_int


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    from desim_iov.sweep import BACKENDS

    sw = sub.add_parser("sweep", help="run a sweep file (a base scenario, a grid of overrides, seeds) into "
                        "DIR/results.parquet; resumable: the same command runs only what is missing")
    sw.add_argument("sweep", help="sweep YAML file or a shipped sweep name (docs/USAGE.md 'Sweeps')")
    sw.add_argument("--out", required=True, help="sweep directory (records, traces, results.parquet)")
    sw.add_argument("--backend", choices=BACKENDS, default="processes",
                    help="where jobs run (default processes: a local pool)")
    sw.add_argument("--workers", type=positive_int, default=2, help="parallel jobs (local pool or LocalCluster; default 2)")
    sw.add_argument("--scheduler", help="with --backend dask: join the cluster at this address "
                    "(tcp://HOST:8786) instead of starting a LocalCluster")
    sw.add_argument("--dry-run", action="store_true", help="validate and say what would run; run nothing")
    sw.add_argument("--quiet", action="store_true")
    sw.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from desim_iov.sweep import SweepError, load_sweep, plan, run_sweep

    try:
        spec = load_sweep(args.sweep)
        exp, fits, trains, runs = plan(spec, args.out)
    except SweepError as e:
        raise CliError(str(e)) from None
    fitted = f", {len(exp.fits)} forecaster fit(s)" if exp.fits else ""
    print(f"{len(exp.runs)} run(s), {len(exp.trains)} training(s){fitted}; to run now: {len(runs)} run(s), "
          f"{len(trains)} training(s){f', {len(fits)} fit(s)' if exp.fits else ''}", file=sys.stderr)
    if args.dry_run:
        for r in runs:
            print(f"  {r.describe()}")
        return 0
    try:  # SIGTERM (a batch scheduler's stop) unwinds like Ctrl-C (desim_iov.cli.main)
        res = run_sweep(spec, args.out, backend=args.backend, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.quiet)
    except (ValueError, RuntimeError) as e:
        raise CliError(str(e)) from None
    except KeyboardInterrupt as e:
        from desim_iov.cli import Terminated

        print(f"desim-iov: sweep {'terminated' if isinstance(e, Terminated) else 'interrupted'}: finished runs "
              "are recorded; the same command resumes", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    ok = len(res.results) - res.failed
    print(f"{ok} of {len(res.results)} run(s) ok ({res.ran} job(s) run now, {res.reused} run(s) reused)")
    if res.failed:
        for _, r in res.results[res.results.status != "ok"].head(5).iterrows():
            print(f"  failed: {r.policy} seed {r.seed} {r.setting}: {r.error}", file=sys.stderr)
    print(f"results: {res.path}")
    return 1 if res.failed else 0
