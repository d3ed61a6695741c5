"""``desim-iov``: the composition root (the only kernel module that imports agents)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from desim_iov import __version__
from desim_iov.config import ConfigError, load_scenario, preset_names


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


def _cmd_run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from agents.base import make_policy
    from analysis.summary import format_summary, summarize
    from desim_iov.sim import Simulation

    overrides = list(args.set or [])
    if args.duration is not None:
        overrides.append(f"duration={args.duration}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.policy is not None:
        overrides.append(f"policy.name={args.policy}")
    scenario = load_scenario(args.scenario, overrides)
    try:
        policy = make_policy(scenario.policy.name, **scenario.policy.params)
    except KeyError as e:
        raise CliError(str(e).strip("\"'")) from None
    out = Path(args.out or f"runs/{scenario.name}-{scenario.policy.name}-seed{scenario.seed}.h5")
    provenance = {"desim_iov_version": __version__, "git_sha": _git_sha()}
    try:
        sim = Simulation(scenario, policy, trace_path=str(out), provenance=provenance)
    except OSError as e:
        raise CliError(f"{out}: cannot write the trace: {e}") from None
    with tqdm(
        total=scenario.duration,
        unit="sim-s",
        desc=f"{scenario.name}/{scenario.policy.name}",
        disable=args.quiet,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} sim-s [{elapsed}<{remaining}]",
    ) as bar:
        sim.run(progress=lambda t: bar.update(t - bar.n))
    if not args.quiet:
        title = (
            f"{scenario.name}, policy {scenario.policy.name}, seed {scenario.seed}, "
            f"{scenario.duration:g} s simulated"
        )
        print(format_summary(summarize(out), title))
    print(f"trace: {out}")
    return 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    for name in preset_names():
        print(f"{name:<20} {load_scenario(name).description}")
    return 0


def _cmd_policies(args: argparse.Namespace) -> int:
    from agents.base import policy_names

    for name, text in policy_names().items():
        print(f"{name:<20} {text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="desim-iov", description="Packet-level simulator of 6G vehicular edge networks."
    )
    p.add_argument("--version", action="version", version=f"desim-iov {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario and write its HDF5 trace")
    r.add_argument("--scenario", default="twin-city", help="preset name or YAML file")
    r.add_argument("--policy", help="policy name (see `desim-iov policies`)")
    r.add_argument("--duration", help="simulated time, seconds or e.g. '10 min'")
    r.add_argument("--seed", type=int, help="root random seed")
    r.add_argument("--out", help="trace file (default runs/<scenario>-<policy>-seed<N>.h5)")
    r.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a scenario field"
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("scenarios", help="list the preset scenarios")
    s.set_defaults(func=_cmd_scenarios)
    q = sub.add_parser("policies", help="list the policies")
    q.set_defaults(func=_cmd_policies)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, CliError) as e:
        print(f"desim-iov: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("desim-iov: interrupted (trace left marked incomplete)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
