"""Forecast metrics (twin-migration Table II) against hand-computed values."""

import math

import numpy as np
import pytest

from models.forecast.metrics import all_metrics, mae, mape, r2, rmse, wape

Y = np.array([1.0, 2.0, 0.0, 4.0])
P = np.array([2.0, 2.0, 1.0, 2.0])  # errors +1, 0, +1, -2


def test_metrics_match_hand_computed_values():
    assert mae(P, Y) == pytest.approx(1.0)
    assert rmse(P, Y) == pytest.approx(math.sqrt(6 / 4))
    assert wape(P, Y) == pytest.approx(4 / 7)
    assert mape(P, Y) == pytest.approx((1 / 1 + 0 / 2 + 2 / 4) / 3)  # y = 0 skipped
    assert r2(P, Y) == pytest.approx(1 - 6 / 8.75)


def test_metrics_ignore_masked_cells():
    m = np.array([True, True, True, False])
    got = all_metrics(P, Y, m)
    assert got["mae"] == pytest.approx(2 / 3)
    assert got["rmse"] == pytest.approx(math.sqrt(2 / 3))
    assert got["wape"] == pytest.approx(2 / 3)
    assert got["mape"] == pytest.approx(0.5)
    assert got["r2"] == pytest.approx(0.0)
    # a wildly wrong masked cell changes nothing
    P2 = P.copy()
    P2[3] = 1e6
    assert all_metrics(P2, Y, m) == got


def test_metrics_work_on_2d_arrays_and_perfect_prediction():
    y = np.arange(12, dtype=float).reshape(4, 3)
    got = all_metrics(y, y, np.ones_like(y, bool))
    assert got["rmse"] == 0 and got["mae"] == 0 and got["wape"] == 0 and got["mape"] == 0
    assert got["r2"] == 1


def test_metrics_reject_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        mae(P[:3], Y)
    with pytest.raises(ValueError, match="mask shape"):
        mae(P, Y, np.ones(3, bool))
