"""Provenance of a run's external inputs: which files it read, and their content digests.

A trace records the scenario and the seed; the data files it read (a vehicle trace, PeMS flow,
an RSU coordinate file) live outside it. ``input_digests`` hashes them (SHA-256 over each
file's relative name and bytes, directories walked in sorted order) so that ``replay`` can tell
that it is re-running on the same inputs, and say which one changed if not.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from desim_iov.config import Scenario, resolve_path


def input_paths(s: Scenario) -> dict[str, Path]:
    """role -> file or directory of every external input the scenario reads."""
    out: dict[str, Path] = {}
    if s.vehicles.trace:
        out["vehicles.trace"] = resolve_path(s.vehicles.trace, s)
    if s.background.model == "pems":
        out["background.pems_source"] = resolve_path(s.background.pems_source, s)
    positions = getattr(s.rsus, "positions", None)
    if positions:
        out["rsus.positions"] = resolve_path(positions, s)
    if s.vehicles.mobility == "sumo":
        su = s.vehicles.sumo
        if su.net != "grid":
            out["vehicles.sumo.net"] = resolve_path(su.net, s)
        for i, r in enumerate(su.route_files()):
            out[f"vehicles.sumo.routes[{i}]"] = resolve_path(r, s)
    if s.predictor.checkpoint:
        out["predictor.checkpoint"] = resolve_path(s.predictor.checkpoint, s)
    return out


def digest(path: Path) -> str:
    """SHA-256 of a file, or of a directory's files (relative names and bytes, sorted)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        h.update(b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def input_digests(s: Scenario) -> str:
    """JSON ``{role: {"path": ..., "sha256": ...}}`` for the trace's root attributes."""
    return json.dumps(
        {role: {"path": str(p), "sha256": digest(p) if p.exists() else None}
         for role, p in input_paths(s).items()},
        sort_keys=True,
    )


def changed_inputs(recorded: str, s: Scenario) -> list[str]:
    """One line per input whose content differs from what the trace recorded (empty: same)."""
    before = json.loads(recorded)
    now = json.loads(input_digests(s))
    lines = []
    for role in sorted(set(before) | set(now)):
        a, b = before.get(role), now.get(role)
        if a is None or b is None:
            lines.append(f"{role}: {'not' if a is None else 'no longer'} an input of the scenario")
        elif a["sha256"] != b["sha256"]:
            where = b["path"] if b["path"] == a["path"] else f"{a['path']} -> {b['path']}"
            state = "missing" if b["sha256"] is None else "content differs"
            lines.append(f"{role}: {where}: {state}")
    return lines
