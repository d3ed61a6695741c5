"""Shared fixtures: tiny scenarios that run in well under a second."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desim_iov.config import Scenario, load_scenario


def data_dir() -> Path:
    """Real datasets: $DESIM_IOV_DATA, else ../shared/data beside the repository."""
    env = os.environ.get("DESIM_IOV_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def tiny(ref: str = "twin-city", *overrides: str) -> Scenario:
    """A preset shortened to 90 s with lighter traffic (same models, same code paths)."""
    base = ["duration=90", "vehicles.traffic.packet_size=400 kB", "trace.sample_interval=5 s"]
    return load_scenario(ref, base + list(overrides))


@pytest.fixture
def tiny_city() -> Scenario:
    return tiny("twin-city")
