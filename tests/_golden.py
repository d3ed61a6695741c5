"""Golden traces: the kernel's exact output on five fixed runs, kept in ``tests/data/golden``.

They protect determinism and every refactoring of the kernel: ``test_golden_traces.py`` re-runs
each case and compares every dataset column by column (integers and byte strings exactly,
floats to 1e-9, NaN equal to NaN). Regenerate them only for an intended change of the model,
and say so in the commit:

    python tests/_golden.py            # rewrites tests/data/golden/*.h5

Cases (seed fixed, ~60 simulated seconds each, policies that migrate twins):

- twin-city, packet fidelity, greedy, 10-s slots (periodic background, satellite overflow);
- twin-rural, packet fidelity, random (policy stream), 10-s slots;
- twin-urban-fbl (the quantum-DRL radio: FBL rate, Rician/Rayleigh fading, antenna arrays,
  random-waypoint UAVs), packet fidelity, random, 5 s of 20-ms slots;
- twin-city, slot fidelity, random, 300 s of 10-s slots;
- twin-city-tdrive on tiny synthetic T-Drive/PeMS files (trace import, PeMS background, the
  naive predictor and /predictions), packet fidelity, greedy.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GOLDEN_DIR = HERE / "data" / "golden"


@dataclass(frozen=True)
class Case:
    name: str
    preset: str
    policy: str
    overrides: tuple[str, ...]
    fake_data: bool = False


CASES: tuple[Case, ...] = (
    Case("twin-city-packet", "twin-city", "greedy", ("duration=60", "slot=10 s", "trace.sample_interval=5 s")),
    Case("twin-rural-packet", "twin-rural", "random", ("duration=60", "slot=10 s", "trace.sample_interval=5 s")),
    Case("twin-urban-fbl-packet", "twin-urban-fbl", "random", ("duration=5", "trace.sample_interval=100 ms")),
    Case("twin-city-slot", "twin-city", "random", ("fidelity=slot", "duration=300", "slot=10 s",
                                                   "trace.sample_interval=10 s")),
    Case("twin-city-tdrive-fake", "twin-city-tdrive", "greedy", (
        "duration=600", "rsus.count=12", "uavs.count=2", "background.pems_source=data:fake.npz",
        "background.pems_start=1970-01-01 02:00", "predictor.name=naive",
        "vehicles.traffic.packet_size=800 kB"), fake_data=True),
)


def run_case(case: Case, out: Path, data_root: Path | None = None) -> Path:
    """Run ``case`` into the trace ``out``; ``data_root`` holds the synthetic files of
    ``fake_data`` cases (made there when missing)."""
    from agents.base import make_policy
    from desim_iov.config import load_scenario
    from desim_iov.sim import make_simulation

    overrides = list(case.overrides)
    if case.fake_data:
        if data_root is None:
            raise ValueError(f"{case.name} needs a data_root for its synthetic files")
        if not (data_root / "fake.npz").exists():
            sys.path.insert(0, str(HERE))
            from test_realdata_scenarios import fake_data

            fake_data(data_root)
        overrides.insert(0, f"data_dir={data_root}")
    sc = load_scenario(case.preset, overrides)
    make_simulation(sc, make_policy(case.policy), trace_path=str(out)).run()
    return out


#: root attributes that legitimately differ between runs or versions
VOLATILE_ATTRS = {"desim_iov_version", "git_sha", "inputs", "scenario", "data_dir", "schema_version",
                  "vehicle_trace_report"}  # the last names the temporary data directory


#: datasets added to the schema after the golden traces were made (additive changes):
#: 1.3 /fluid_losses
ADDED_DATASETS = {"fluid_losses"}


def compare_traces(expected: Path, actual: Path, rtol: float = 1e-9, atol: float = 1e-9) -> list[str]:
    """Differences between two traces' datasets, column by column (empty when equal):
    integers, booleans and byte strings exactly, floats within ``rtol``/``atol`` with NaN
    equal to NaN; plus the numeric root attributes that summarise a run. A dataset of
    :data:`ADDED_DATASETS` missing from ``expected`` is not a difference."""
    import h5py

    out: list[str] = []
    with h5py.File(expected, "r") as fe, h5py.File(actual, "r") as fa:
        for name in sorted(set(fe) | set(fa)):
            if name not in fe and name in ADDED_DATASETS:
                continue
            if name not in fa or name not in fe:
                out.append(f"/{name}: only in {'expected' if name in fe else 'actual'}")
                continue
            a, b = fe[name][()], fa[name][()]
            if len(a) != len(b):
                out.append(f"/{name}: {len(a)} rows expected, {len(b)} found")
                continue
            for col in a.dtype.names:
                if col not in b.dtype.names:
                    out.append(f"/{name}.{col}: column missing")
                    continue
                x, y = a[col], b[col]
                if x.dtype.kind == "f":
                    ok = np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
                else:
                    ok = x == y
                if not np.all(ok):
                    i = int(np.flatnonzero(~ok)[0])
                    out.append(f"/{name}.{col}: {int((~ok).sum())} rows differ, first row {i}: "
                               f"{x[i]!r} expected, {y[i]!r} found")
        for k in sorted(set(fe.attrs) - VOLATILE_ATTRS):
            va, vb = fe.attrs[k], fa.attrs.get(k)
            if isinstance(va, (int, float, np.number)):
                if vb is None or not np.isclose(va, vb, rtol=rtol, atol=atol, equal_nan=True):
                    out.append(f"attribute {k}: {va!r} expected, {vb!r} found")
            elif vb is None or str(va) != str(vb):
                out.append(f"attribute {k}: {va!r} expected, {vb!r} found")
    return out


def main() -> None:
    import tempfile

    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            out = run_case(case, GOLDEN_DIR / f"{case.name}.h5", Path(tmp))
            print(f"{out.relative_to(HERE.parent)}: {out.stat().st_size / 1024:.0f} kB")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    main()
