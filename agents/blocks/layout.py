"""What the learners' networks need to know about an env: V agents, M servers and their kinds.

Shapes: ``V`` agents (``env.possible_agents``), ``M`` servers (actions), ``D = 2M - 1``
observation entries (Eq. 19: M-1 distances in km, M workloads as fractions of L_max),
``S = V * D`` global-state entries (``env.state()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desim_iov.kinds import SATELLITE


@dataclass(frozen=True)
class Layout:
    """What the networks need to know about the env: V agents, M servers, which server is the
    satellite (Eq. 19 leaves its distance out), observation and state sizes."""

    n_agents: int
    n_servers: int
    kinds: tuple[int, ...]

    @property
    def obs_dim(self) -> int:
        return self.n_servers + len(self.terrestrial)

    @property
    def state_dim(self) -> int:
        return self.n_agents * self.obs_dim

    @property
    def terrestrial(self) -> list[int]:
        return [m for m, k in enumerate(self.kinds) if k != SATELLITE]

    def as_dict(self) -> dict[str, Any]:
        return {"n_agents": self.n_agents, "n_servers": self.n_servers, "kinds": list(self.kinds)}

    @classmethod
    def of_env(cls, env: Any) -> Layout:
        """From a ``DesimParallelEnv`` (or anything wrapping one: ``unwrapped``)."""
        base = getattr(env, "unwrapped", env)
        kinds = getattr(base, "server_kinds", None)
        if kinds is None and getattr(base, "sim", None) is not None:
            kinds = base.sim.kinds
        if kinds is None:
            raise TypeError("cannot find the servers' kinds on this env (expected a DesimParallelEnv)")
        return cls(len(env.possible_agents), int(len(kinds)), tuple(int(k) for k in kinds))
