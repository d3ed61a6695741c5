"""The declarative policy registry (agents/registry.py): every entry resolves to a factory,
and listing the names imports no policy module (no torch, no scipy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agents.base import policy_names
from agents.learned import LEARNED
from agents.registry import POLICIES, factory_of


def test_every_entry_resolves_to_a_callable_with_a_one_line_help():
    assert set(policy_names()) == set(POLICIES)
    for name, entry in POLICIES.items():
        assert callable(factory_of(name)), name
        assert entry.help and "\n" not in entry.help
    assert set(LEARNED) == {"dm-mappo", "mappo", "masac", "masac-nomask"}


def test_listing_names_imports_no_policy_module():
    code = ("import sys; from agents.base import policy_names; policy_names(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'scipy') "
            "or m in ('agents.heuristics', 'agents.oracle', 'agents.learned', 'agents.train')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])  # this checkout's agents
    assert out.stdout.strip() == "[]"
