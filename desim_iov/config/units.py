"""Human units in, SI out: the one place where ``"60 MB"``, ``"300 MHz"`` or ``"23 dBm"`` become
numbers.

Inside the simulator everything is SI: metres, seconds, bits, hertz, watts, bit/s, m/s.
A configuration value may be a bare number (already SI) or a string ``"<number> <unit>"``.
Data sizes use decimal prefixes (``MB`` = 10^6 bytes = 8·10^6 bit), binary ones are explicit
(``MiB``); a capital ``B`` is a byte, a lower-case ``b``/``bit`` a bit.

Written by hand rather than with ``pint``: we need bits vs bytes, dBm/dB, strict per-field
dimensions and one-line errors, and nothing else; ``pint`` costs ~0.5 s of import time per CLI
call and does not treat ``dBm`` as a plain power unit.
"""

from __future__ import annotations

import math
import re

_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_BIN_PREFIX = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def _data_units() -> dict[str, float]:
    out: dict[str, float] = {}
    for p, f in _PREFIX.items():
        out[f"{p}B"] = 8.0 * f
        out[f"{p}byte"] = 8.0 * f
        out[f"{p}bytes"] = 8.0 * f
        out[f"{p}bit"] = f
        out[f"{p}bits"] = f
        out[f"{p}b"] = f
    for p, f in _BIN_PREFIX.items():
        out[f"{p}B"] = 8.0 * f
        out[f"{p}b"] = f
        out[f"{p}bit"] = f
    return out


_DATA = _data_units()
_RATE = {f"{k}/s": v for k, v in _DATA.items()} | {f"{k}ps": v for k, v in _DATA.items() if "b" in k}

#: dimension name -> {unit spelling -> factor to SI}
UNITS: dict[str, dict[str, float]] = {
    "bit": _DATA,
    "bit/s": _RATE,
    "s": {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0, "h": 3600.0, "d": 86400.0},
    "m": {"m": 1.0, "km": 1e3, "cm": 1e-2, "mm": 1e-3},
    "m/s": {"m/s": 1.0, "km/h": 1 / 3.6, "kmh": 1 / 3.6},
    "Hz": {f"{p}Hz": f for p, f in _PREFIX.items() if p != "K"},
    "W": {"W": 1.0, "mW": 1e-3, "kW": 1e3},
    "cycles/bit": {"cycles/bit": 1.0, "cycle/bit": 1.0},
    "dB": {"dB": 1.0},
    "1": {"": 1.0, "%": 0.01},
}

_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


class UnitError(ValueError):
    """A value whose unit does not fit the field's dimension."""


def parse_quantity(value: object, dimension: str) -> float:
    """Convert ``value`` (number or ``"<number> <unit>"``) to SI in ``dimension``.

    Powers also accept ``dBm`` and ``dBW``. Raises :class:`UnitError` naming the units allowed.
    """
    if isinstance(value, bool):
        raise UnitError(f"expected a quantity in {dimension}, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a number or a string like '60 MB', got {type(value).__name__}")
    m = _NUM.match(value)
    if not m:
        raise UnitError(f"cannot read {value!r} as '<number> <unit>'")
    number, unit = float(m.group(1)), m.group(2)
    if dimension == "W" and unit in ("dBm", "dBW"):
        from models.rate import dbm_to_w  # the one dBm -> W converter

        out = float(dbm_to_w(number if unit == "dBm" else number + 30.0))
        if not math.isfinite(out):
            raise UnitError(f"{value!r} is not finite")
        return out
    table = UNITS.get(dimension)
    if table is None:
        raise KeyError(f"unknown dimension {dimension!r}")
    if unit == "" and dimension != "1":
        return number  # a bare number in a string is SI already
    if unit not in table:
        allowed = ", ".join(sorted(u for u in table if u)[:12])
        extra = ", dBm, dBW" if dimension == "W" else ""
        raise UnitError(f"unit {unit!r} is not a {dimension} unit (use e.g. {allowed}{extra})")
    out = number * table[unit]
    if not math.isfinite(out):
        raise UnitError(f"{value!r} is not finite")
    return out


def format_quantity(value: float, dimension: str) -> str:
    """A short human string for an SI value (for summaries), e.g. ``60 MB``, ``300 MHz``."""
    if dimension == "bit":
        for unit, f in (("GB", 8e9), ("MB", 8e6), ("kB", 8e3)):
            if abs(value) >= f:
                return f"{value / f:.4g} {unit}"
        return f"{value:.4g} bit"
    if dimension == "bit/s":
        for unit, f in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
            if abs(value) >= f:
                return f"{value / f:.4g} {unit}"
        return f"{value:.4g} bit/s"
    if dimension == "Hz":
        for unit, f in (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)):
            if abs(value) >= f:
                return f"{value / f:.4g} {unit}"
    if dimension == "s" and abs(value) < 1:
        return f"{value * 1e3:.4g} ms"
    return f"{value:.4g} {dimension}"
