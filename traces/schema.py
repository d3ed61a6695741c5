"""The HDF5 trace schema: one 1-D structured dataset per record type (docs/TRACE_FORMAT.md).

Bump :data:`SCHEMA_VERSION` on any change of a dtype, a code or an attribute's meaning.
"""

from __future__ import annotations

import numpy as np

from desim_iov.kinds import AGENT_KINDS, NODE_KINDS, SERVER_KINDS  # noqa: F401  (re-exported: the schema's codes)

SCHEMA_VERSION = "1.5"  # 1.1: /predictions; 1.2: /server_load.background_dropped;
# 1.3: /fluid_losses (slot fidelity) and the root attribute fluid_lost_bits;
# 1.4: the task-offloading app's /tasks, /subtasks, /hops, /node_slots, /links, /agent_steps;
# 1.5: the task-offloading app's digital twin, /dt_states and /dt_predictions

#: packet terminal states; 0 is delivered, every other code is a drop reason
OUTCOMES: dict[int, str] = {
    0: "delivered",
    1: "out_of_range",  # twin-migration Eq. 14: D_{v,m} > D_max (uplink or downlink)
    2: "cache_overflow",  # Eq. 14: S'_m > L_max (and no room on the satellite either)
    3: "twin_migrating",  # twin in flight and migration.packets_during = drop
    4: "in_flight_at_end",  # still travelling when the run ended (not a loss)
}
OUTCOME_CODE = {name: code for code, name in OUTCOMES.items()}

#: /fluid_losses.reason codes (slot fidelity: twin-migration Eq. 14)
FLUID_LOSS_REASONS: dict[int, str] = {0: "out_of_range", 1: "cache_overflow"}


DTYPES: dict[str, np.dtype] = {
    "packets": np.dtype(
        [
            ("packet_id", "<i8"),
            ("vehicle", "<i4"),
            ("server", "<i4"),
            ("created", "<f8"),
            ("finished", "<f8"),
            ("bits", "<f8"),
            ("outcome", "u1"),
            ("overflowed", "u1"),
        ]
    ),
    "migrations": np.dtype(
        [
            ("vehicle", "<i4"),
            ("src", "<i4"),
            ("dst", "<i4"),
            ("start", "<f8"),
            ("end", "<f8"),
            ("bits", "<f8"),
            ("rate", "<f8"),
        ]
    ),
    # 'mask' is a fixed-width byte string of b'0'/b'1', one character per server, so that
    # pandas.read_hdf can read the dataset (it rejects array-valued columns).
    "decisions": None,  # built per run by decisions_dtype(n_servers)
    "slots": np.dtype(
        [
            ("slot", "<i4"),
            ("time", "<f8"),
            ("vehicle", "<i4"),
            ("server", "<i4"),
            ("distance", "<f8"),
            ("load", "<f8"),
            ("t_up", "<f8"),
            ("t_down", "<f8"),
            ("t_cul", "<f8"),
            ("t_mig", "<f8"),
            ("t_sum", "<f8"),
            ("failed", "u1"),
            ("migrated", "u1"),
        ]
    ),
    "server_load": np.dtype(
        [
            ("time", "<f8"),
            ("server", "<i4"),
            ("load", "<f8"),
            ("background_rate", "<f8"),
            ("background_dropped", "<f8"),
        ]
    ),
    "positions": np.dtype(
        [
            ("time", "<f8"),
            ("kind", "u1"),
            ("id", "<i4"),
            ("x", "<f8"),
            ("y", "<f8"),
            ("z", "<f8"),
            ("twin_host", "<i4"),
        ]
    ),
    "predictions": np.dtype(
        [
            ("time", "<f8"),
            ("slot", "<i4"),
            ("server", "<i4"),
            ("predicted", "<f4"),
            ("actual", "<f4"),
            ("error", "<f4"),
            ("predicted_bits", "<f8"),
        ]
    ),
    # slot fidelity: a slot of data S_v that did not reach a cache (reason: FLUID_LOSS_REASONS)
    "fluid_losses": np.dtype(
        [
            ("time", "<f8"),
            ("slot", "<i4"),
            ("vehicle", "<i4"),
            ("server", "<i4"),
            ("bits", "<f8"),
            ("reason", "u1"),
        ]
    ),
    "servers": np.dtype(
        [
            ("server", "<i4"),
            ("kind", "u1"),
            ("x", "<f8"),
            ("y", "<f8"),
            ("z", "<f8"),
            ("range", "<f8"),
            ("cpu", "<f8"),
            ("cache", "<f8"),
        ]
    ),
}

#: /subtasks.outcome codes of the task-offloading app: every subtask ends in exactly one
SUBTASK_OUTCOMES: dict[int, str] = {
    0: "processed_in_time",  # finished within the deadline rho (C5/C6)
    1: "processed_late",  # finished past rho (soft constraint: a penalty, not a drop)
    2: "edge_vanished",  # no access link left when its transmission was due (C1/C8)
    3: "hop_limit",  # would be forwarded past max_hops (offload.network.at_hop_limit: drop)
    4: "in_flight_at_end",  # not finished when the run ended (not a loss)
}
SUBTASK_CODE = {name: code for code, name in SUBTASK_OUTCOMES.items()}
#: /tasks.status codes
TASK_STATUS: dict[int, str] = {0: "released", 1: "no_link", 2: "held_at_end"}
TASK_CODE = {name: code for code, name in TASK_STATUS.items()}

#: /dt_states.kind and /dt_predictions.kind: the agent kinds in AGENT_KINDS order
AGENT_KIND_CODE: dict[str, int] = {k: i for i, k in enumerate(AGENT_KINDS)}  # vehicle 0, uav 1, bs 2
DT_STATE_WIDTH = 64  # /dt_states.state: the 6-qubit encoding's 64 features at most, 0-padded
DT_NO_ACTION = -1  # /dt_states.action of an agent that did not act in the previous slot

OFFLOAD_DTYPES: dict[str, np.dtype] = {
    "tasks": np.dtype([
        ("task", "<i8"), ("vehicle", "<i4"), ("created", "<f8"), ("bits", "<f8"),
        ("released", "<f8"), ("split_level", "<i4"), ("n_sub", "<i4"), ("status", "u1"),
    ]),
    "subtasks": np.dtype([
        ("subtask", "<i8"), ("task", "<i8"), ("vehicle", "<i4"), ("j", "<i4"),
        ("priority", "<f8"), ("bits", "<f8"), ("cycles", "<f8"), ("created", "<f8"),
        ("released", "<f8"), ("first_node", "<i4"), ("proc_node", "<i4"), ("hops", "<i4"),
        ("t_tx", "<f8"), ("t_queue", "<f8"), ("t_proc", "<f8"), ("finished", "<f8"),
        ("latency", "<f8"), ("outcome", "u1"), ("deadline_met", "u1"), ("rerouted", "<i4"),
        ("e_tx_vehicle", "<f8"), ("e_tx_relay", "<f8"), ("e_proc", "<f8"), ("qos", "<f8"),
        ("qos_norm", "<f8"),
    ]),
    "hops": np.dtype([
        ("subtask", "<i8"), ("hop", "<i4"), ("src", "<i4"), ("dst", "<i4"), ("link_type", "i1"),
        ("start", "<f8"), ("end", "<f8"), ("bits", "<f8"), ("rate", "<f8"), ("power", "<f8"),
        ("energy", "<f8"),
    ]),
    "node_slots": np.dtype([
        ("slot", "<i4"), ("time", "<f8"), ("node", "<i4"), ("kind", "u1"), ("f_cpu", "<f8"),
        ("f_est", "<f8"), ("cpu_level", "<f8"), ("power", "<f8"), ("target", "<i4"),
        ("admitted_cycles", "<f8"), ("queue_cycles", "<f8"), ("busy_frac", "<f8"),
        ("e_tx", "<f8"), ("e_proc", "<f8"),
    ]),
    "links": np.dtype([
        ("time", "<f8"), ("src", "<i4"), ("dst", "<i4"), ("link_type", "i1"), ("distance", "<f8"),
        ("pl_db", "<f8"), ("gain", "<f8"), ("snr", "<f8"), ("rate", "<f8"),
    ]),
    "agent_steps": np.dtype([
        ("slot", "<i4"), ("time", "<f8"), ("kind", "S7"), ("index", "<i4"), ("target", "<i4"),
        ("level_a", "<i4"), ("level_b", "<i4"), ("refused", "u1"), ("n_allowed", "<i4"),
        ("reward", "<f8"), ("incentive", "<f8"), ("penalty", "<f8"), ("reward_adj", "<f8"),
    ]),
    "dt_states": np.dtype([
        ("slot", "<i4"), ("time", "<f8"), ("kind", "u1"), ("index", "<i4"), ("n", "u1"),
        ("state", "<f4", (DT_STATE_WIDTH,)), ("action", "<i2", (3,)),
    ]),
    "dt_predictions": np.dtype([
        ("slot", "<i4"), ("time", "<f8"), ("kind", "u1"), ("index", "<i4"), ("predicted", "<f8"),
        ("actual", "<f8"),
    ]),
}

OFFLOAD_UNITS: dict[str, dict[str, str]] = {
    "tasks": {"created": "s", "bits": "bit", "released": "s"},
    "subtasks": {"bits": "bit", "cycles": "cycle", "created": "s", "released": "s", "t_tx": "s",
                 "t_queue": "s", "t_proc": "s", "finished": "s", "latency": "s",
                 "e_tx_vehicle": "J", "e_tx_relay": "J", "e_proc": "J", "qos": "1/s - J (Eq. 48)"},
    "hops": {"start": "s", "end": "s", "bits": "bit", "rate": "bit/s", "power": "W", "energy": "J"},
    "node_slots": {"time": "s", "f_cpu": "Hz", "f_est": "Hz", "power": "W",
                   "admitted_cycles": "cycle", "queue_cycles": "cycle", "e_tx": "J", "e_proc": "J"},
    "links": {"time": "s", "distance": "m", "pl_db": "dB", "snr": "1", "rate": "bit/s"},
    "agent_steps": {"time": "s"},
    "dt_states": {"time": "s", "state": "features (apps/offload_spaces.py)"},
    "dt_predictions": {"time": "s", "predicted": "queued bits / D^max", "actual": "queued bits / D^max"},
}

UNITS: dict[str, dict[str, str]] = {
    "packets": {"created": "s", "finished": "s", "bits": "bit"},
    "migrations": {"start": "s", "end": "s", "bits": "bit", "rate": "bit/s"},
    "decisions": {"time": "s"},
    "slots": {
        "time": "s",
        "distance": "m",
        "load": "bit",
        "t_up": "s",
        "t_down": "s",
        "t_cul": "s",
        "t_mig": "s",
        "t_sum": "s",
    },
    "server_load": {
        "time": "s", "load": "bit", "background_rate": "bit/s", "background_dropped": "bit"
    },
    "positions": {"time": "s", "x": "m", "y": "m", "z": "m"},
    "fluid_losses": {"time": "s", "bits": "bit"},
    "servers": {"x": "m", "y": "m", "z": "m", "range": "m", "cpu": "Hz", "cache": "bit"},
    "predictions": {"time": "s", "predicted": "vehicles/5 min", "actual": "vehicles/5 min",
                    "error": "vehicles/5 min", "predicted_bits": "bit"},
}
UNITS.update(OFFLOAD_UNITS)


def decisions_dtype(n_servers: int) -> np.dtype:
    return np.dtype(
        [
            ("time", "<f8"),
            ("slot", "<i4"),
            ("agent", "<i4"),
            ("action", "<i4"),
            ("previous", "<i4"),
            ("n_feasible", "<i4"),
            ("mask", f"S{n_servers}"),
        ]
    )


def mask_to_bytes(mask: np.ndarray) -> bytes:
    """int8 mask (M,) -> b'0110...'."""
    return (np.asarray(mask, dtype=np.uint8) + ord("0")).tobytes()


def mask_from_bytes(values) -> np.ndarray:
    """b'0110...' (or an array of them) -> int8 mask array (..., M)."""
    arr = np.asarray(values, dtype=bytes)
    width = arr.dtype.itemsize
    raw = np.frombuffer(arr.tobytes(), dtype=np.uint8).reshape(*arr.shape, width)
    return (raw - ord("0")).astype(np.int8)
