"""Path loss models against hand computations from the standards' formulas."""

import math

import numpy as np
import pytest

from models.pathloss import (
    MODELS,
    free_space_gain,
    gain,
    gain_from_path_loss_db,
    path_loss_db,
)


def test_free_space_gain_hand_value_2g4_100m():
    # lambda = 3e8 / 2.4e9 = 0.125 m; (0.125 / (4 pi 100))^2 = 9.8946e-9
    expected = (0.125 / (4.0 * math.pi * 100.0)) ** 2
    assert expected == pytest.approx(9.8946e-9, rel=1e-4)
    assert free_space_gain(100.0, 2.4e9) == pytest.approx(expected, rel=1e-12)
    assert free_space_gain(100.0, 2.4e9, coefficient=2.0) == pytest.approx(2 * expected)


def test_free_space_db_matches_textbook_km_mhz_form():
    # FSPL = 20 log10(d_km) + 20 log10(f_MHz) + 20 log10(4 pi 1e9 / 3e8) (= 32.4418 with c = 3e8)
    const = 20 * math.log10(4 * math.pi * 1e9 / 3e8)
    assert const == pytest.approx(32.4418, abs=1e-4)
    expected = 20 * math.log10(0.1) + 20 * math.log10(2400.0) + const  # 80.046 dB
    assert path_loss_db("free_space", 100.0, 2.4e9) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(80.046, abs=1e-3)


def test_free_space_inverse_square_law():
    g = free_space_gain(np.array([10.0, 20.0, 40.0]), 3.5e9)
    np.testing.assert_allclose(g[1:] / g[:-1], 0.25)


def test_gain_and_loss_are_reciprocal():
    assert gain_from_path_loss_db(3.0) == pytest.approx(0.501187, rel=1e-6)
    assert gain("free_space", 250.0, 5.9e9) == pytest.approx(free_space_gain(250.0, 5.9e9), rel=1e-12)


def test_unknown_model_lists_allowed_names():
    with pytest.raises(ValueError, match="free_space"):
        path_loss_db("cost231", 100.0, 2e9)
    assert "free_space" in MODELS


def test_negative_distance_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        free_space_gain(-1.0, 2e9)
    with pytest.raises(ValueError, match="freq_hz"):
        free_space_gain(1.0, 0.0)
