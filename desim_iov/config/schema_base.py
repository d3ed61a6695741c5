"""Shared building blocks of the scenario schema: quantities with units, strict models."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from desim_iov.config.units import UnitError, parse_quantity


class ConfigError(ValueError):
    """Bad scenario input; ``str(e)`` is one line for the user."""


def _q(dimension: str):
    def conv(v: Any) -> Any:
        try:
            return parse_quantity(v, dimension)
        except UnitError as e:
            raise ValueError(str(e)) from None

    return BeforeValidator(conv)


def _positive(v: float) -> float:
    if not v > 0:
        raise ValueError("must be > 0")
    if not math.isfinite(v):
        raise ValueError("must be finite")
    return v


def _non_negative(v: float) -> float:
    if v < 0:
        raise ValueError("must be >= 0")
    if not math.isfinite(v):
        raise ValueError("must be finite")
    return v


# counts and switches refuse look-alikes (YAML `true` is not 1, `2.5` is not 2)
Count = Annotated[int, Field(strict=True)]
Switch = Annotated[bool, Field(strict=True)]


Bits = Annotated[float, _q("bit"), AfterValidator(_positive)]
BitsNN = Annotated[float, _q("bit"), AfterValidator(_non_negative)]
BitRate = Annotated[float, _q("bit/s"), AfterValidator(_positive)]
Seconds = Annotated[float, _q("s"), AfterValidator(_positive)]
SecondsNN = Annotated[float, _q("s"), AfterValidator(_non_negative)]
Meters = Annotated[float, _q("m"), AfterValidator(_positive)]
MetersNN = Annotated[float, _q("m"), AfterValidator(_non_negative)]
Speed = Annotated[float, _q("m/s"), AfterValidator(_positive)]
SpeedNN = Annotated[float, _q("m/s"), AfterValidator(_non_negative)]
Hertz = Annotated[float, _q("Hz"), AfterValidator(_positive)]
Watts = Annotated[float, _q("W"), AfterValidator(_positive)]
Decibels = Annotated[float, _q("dB")]
Fraction = Annotated[float, _q("1")]


def _check_pathloss(name: str, params: dict[str, float], freq_hz: float) -> None:
    """Raise ValueError unless ``name`` is a model of models.pathloss and takes ``params``."""
    from models.pathloss import MODELS, path_loss_db

    if name not in MODELS:
        raise ValueError(f"unknown path loss {name!r} (allowed: {', '.join(sorted(MODELS))})")
    try:  # the parameters must be the model's: try them once
        path_loss_db(name, 100.0, freq_hz, **params)
    except (TypeError, ValueError) as e:
        raise ValueError(f"pathloss_params {params} for {name}: {e}") from None


class Strict(BaseModel):
    # no inf/NaN anywhere (an infinite bandwidth or data rate would hang or poison the kernel)
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )
