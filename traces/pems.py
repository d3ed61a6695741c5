"""PeMS traffic-flow importers: the D12 Orange County export and the PEMS0x ``.npz`` layout.

The flow of a PeMS station in vehicles per 5 minutes is the workload source of an edge server
(twin-migration Sec. V: ``S_m(t) = S_v * c_m(t)``). Two layouts load into one :class:`PemsData`:

- ``load_pems_d12(data_dir)``: ``pems/D12_Orange_2022-01/`` under the shared data directory
  (``flow_5min.csv``, ``observed_pct_5min.csv``, ``stations.csv``; see
  ``shared/data/PROVENANCE.md`` Sec. 3). A cell is *observed* when PeMS ``% Observed`` > 0;
  cells with 0 were imputed by PeMS and must not be scored.
- ``load_pems_npz(path, feature=0)``: the ``data`` array ``[time, sensor, feature]`` of the
  forecasting literature's PEMS03/04/07/08 files. They carry no observation mask (all True) and
  no coordinates.

Errors are one-line ``ValueError`` messages naming the file and the problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

D12_SUBDIR = Path("pems") / "D12_Orange_2022-01"

# Start dates of the PEMS0x tensors as documented by their source READMEs (ASTGCN / STSGCN).
# The .npz files hold no timestamps, so these are used when the caller gives no ``start``.
NPZ_KNOWN_STARTS = {
    "PEMS03": "2018-09-01",
    "PEMS04": "2018-01-01",
    "PEMS07": "2017-05-01",
    "PEMS08": "2016-07-01",
}


@dataclass(frozen=True)
class PemsData:
    """Flow of ``S`` stations over ``T`` regular 5-minute steps.

    ``flow``: (T, S) float32 vehicles per 5 min (all lanes summed).
    ``observed``: (T, S) bool, True where the cell is a measurement (PeMS ``% Observed`` > 0).
    ``timestamps``: DatetimeIndex of length T (local time, naive).
    ``station_ids``: (S,) str. ``lat``/``lon``: (S,) float, NaN where unknown.
    ``stations``: per-station metadata table (one row per column of ``flow``), may be empty.
    """

    flow: np.ndarray
    observed: np.ndarray
    timestamps: pd.DatetimeIndex
    station_ids: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    stations: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""

    @property
    def n_steps(self) -> int:
        return int(self.flow.shape[0])

    @property
    def n_stations(self) -> int:
        return int(self.flow.shape[1])

    @property
    def fully_imputed(self) -> np.ndarray:
        """Indices of stations with no observed cell at all (D12: 1205364 and 1221932)."""
        return np.flatnonzero(~self.observed.any(axis=0))


def default_data_dir() -> Path:
    """``$DESIM_IOV_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("DESIM_IOV_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _read_wide_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    try:
        df = pd.read_csv(path, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc.__class__.__name__}: {exc})") from None
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValueError(f"{path}: expected a timestamp column and one column per station, "
                         f"got shape {df.shape}")
    try:
        df.index = pd.DatetimeIndex(pd.to_datetime(df.index, format="%Y-%m-%d %H:%M"))
    except (ValueError, TypeError):
        raise ValueError(f"{path}: first column must hold timestamps 'YYYY-MM-DD HH:MM', "
                         f"got e.g. {df.index[0]!r}") from None
    bad = df.apply(pd.to_numeric, errors="coerce").isna() & df.notna()
    if bad.to_numpy().any():
        r, c = np.argwhere(bad.to_numpy())[0]
        raise ValueError(f"{path}: non-numeric value {df.iat[r, c]!r} at row {r + 2}, "
                         f"column {df.columns[c]}")
    if df.isna().to_numpy().any():
        r, c = np.argwhere(df.isna().to_numpy())[0]
        raise ValueError(f"{path}: missing value at row {r + 2}, column {df.columns[c]}")
    return df


def load_pems_d12(data_dir: str | os.PathLike | None = None) -> PemsData:
    """Load the D12 Orange County January 2022 export (81 stations x 8,064 steps).

    ``data_dir`` is the shared data directory (holding ``pems/D12_Orange_2022-01/``) or that
    directory itself; ``None`` means :func:`default_data_dir`.
    """
    base = Path(data_dir) if data_dir is not None else default_data_dir()
    d = base if (base / "flow_5min.csv").exists() else base / D12_SUBDIR
    if not d.is_dir():
        raise ValueError(f"{d}: PeMS D12 directory not found (set DESIM_IOV_DATA or --data)")
    flow_path, obs_path, st_path = d / "flow_5min.csv", d / "observed_pct_5min.csv", d / "stations.csv"
    flow = _read_wide_csv(flow_path)
    obs = _read_wide_csv(obs_path)
    if obs.shape != flow.shape:
        raise ValueError(f"{obs_path}: shape {obs.shape} differs from {flow_path.name} {flow.shape}")
    if not (obs.columns == flow.columns).all():
        raise ValueError(f"{obs_path}: station columns differ from {flow_path.name}")
    if not obs.index.equals(flow.index):
        raise ValueError(f"{obs_path}: timestamps differ from {flow_path.name}")
    steps = np.diff(flow.index.asi8)
    if len(steps) and not (steps == steps[0]).all():
        i = int(np.flatnonzero(steps != steps[0])[0])
        raise ValueError(f"{flow_path}: irregular time step at row {i + 3} ({flow.index[i + 1]})")
    f = flow.to_numpy(dtype=np.float32)
    if (f < 0).any():
        r, c = np.argwhere(f < 0)[0]
        raise ValueError(f"{flow_path}: negative flow {f[r, c]} at row {r + 2}, "
                         f"column {flow.columns[c]}")
    ids = np.asarray([str(c) for c in flow.columns])

    if not st_path.is_file():
        raise ValueError(f"{st_path}: file not found")
    st = pd.read_csv(st_path, dtype={"vds_id": str})
    if "vds_id" not in st.columns:
        raise ValueError(f"{st_path}: no 'vds_id' column (columns: {', '.join(st.columns)})")
    st = st.set_index("vds_id")
    missing = [s for s in ids if s not in st.index]
    if missing:
        raise ValueError(f"{st_path}: no row for station(s) {', '.join(missing[:5])}")
    st = st.loc[ids].reset_index()
    # stations.csv carries no coordinates (PROVENANCE Sec. 3); take them only if present.
    lat = st["lat"].to_numpy(float) if "lat" in st.columns else np.full(len(ids), np.nan)
    lon = st["lon"].to_numpy(float) if "lon" in st.columns else np.full(len(ids), np.nan)
    return PemsData(
        flow=f,
        observed=obs.to_numpy() > 0,
        timestamps=flow.index,
        station_ids=ids,
        lat=lat,
        lon=lon,
        stations=st,
        source=str(d),
    )


def load_pems_npz(
    path: str | os.PathLike,
    feature: int = 0,
    start: str | pd.Timestamp | None = None,
    freq: str = "5min",
) -> PemsData:
    """Load a PEMS0x ``.npz`` (key ``data``, shape ``[time, sensor, feature]``; feature 0 = flow).

    The files hold no timestamps: ``start`` defaults to the documented start of PEMS03/04/07/08
    when the file name says which one it is, else 1970-01-01. No observation mask exists, so
    every cell is marked observed; station ids are the column indices as strings.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: file not found")
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.files)
            arr = z["data"] if "data" in keys else None
    except (OSError, EOFError, ValueError, AttributeError) as exc:
        raise ValueError(f"{p}: not a readable .npz ({exc})") from None
    if arr is None:
        raise ValueError(f"{p}: no 'data' array (keys: {', '.join(keys)})")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"{p}: 'data' must be [time, sensor, feature], got shape {arr.shape}")
    if not 0 <= feature < arr.shape[2]:
        raise ValueError(f"{p}: feature {feature} out of range, file has {arr.shape[2]}")
    f = np.asarray(arr[:, :, feature], dtype=np.float32)
    if not np.isfinite(f).all():
        raise ValueError(f"{p}: 'data' holds NaN or inf in feature {feature}")
    if start is None:
        key = next((k for k in NPZ_KNOWN_STARTS if k.lower() in p.name.lower()), None)
        start = NPZ_KNOWN_STARTS[key] if key else "1970-01-01"
    n_t, n_s = f.shape
    return PemsData(
        flow=f,
        observed=np.ones((n_t, n_s), dtype=bool),
        timestamps=pd.date_range(start=start, periods=n_t, freq=freq),
        station_ids=np.asarray([str(i) for i in range(n_s)]),
        lat=np.full(n_s, np.nan),
        lon=np.full(n_s, np.nan),
        stations=pd.DataFrame({"node": np.arange(n_s)}),
        source=str(p),
    )
