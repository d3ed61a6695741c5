"""Small geodesy helpers for the importers.

Private stand-ins until ``models.geo`` (lead's fold) provides them; the argument order and the
Earth radius follow that module's conventions so the fold is a rename: latitude before longitude
for distances, ``(lon, lat, lon0, lat0)`` for projections, degrees in, metres out.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# twin-migration paper, Sec. III-A (R = 6,371.393 km); same value as models.geo.
_EARTH_RADIUS_M = 6_371_393.0


def _haversine_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance between points in degrees, metres (haversine, spherical Earth)."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dlam = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    hav = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2.0) ** 2
    return 2.0 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))


def _lonlat_to_local_xy(
    lon: ArrayLike, lat: ArrayLike, lon0: float, lat0: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Local equirectangular projection about (lon0, lat0): x east, y north, metres.

    ``x = R cos(lat0) dlon``, ``y = R dlat`` (radians). The scale error grows like the square of
    the distance from the origin: under 0.1 % within about 50 km north-south of ``lat0``, which
    covers a city or a motorway corridor; not for continental extents.
    """
    if not -90.0 <= float(lat0) <= 90.0:
        raise ValueError(f"lat0 must lie in [-90, 90] degrees, got {lat0}")
    dlon = (np.asarray(lon, dtype=np.float64) - float(lon0) + 180.0) % 360.0 - 180.0
    dlat = np.asarray(lat, dtype=np.float64) - float(lat0)
    x = _EARTH_RADIUS_M * np.cos(np.radians(float(lat0))) * np.radians(dlon)
    y = _EARTH_RADIUS_M * np.radians(dlat)
    return x, y
