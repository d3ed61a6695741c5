"""Energy and QoS (quantum-DRL Eq. 48, 54-55, 93)."""

import math

import numpy as np
import pytest

from models.energy import processing_energy_j, qos, qos_normalised, transmit_energy_j


def test_processing_energy_xi_c_d():
    # 1 MB at 330 cycles/byte = 3.3e8 cycles, xi = 1e-6 J/cycle (Table II) -> 330 J
    assert processing_energy_j(8e6, 41.25, 1e-6) == pytest.approx(330.0)


def test_transmit_energy_power_times_airtime():
    # 1 mW for 8e6 bit at 1e8 bit/s = 0.08 s -> 8e-5 J
    np.testing.assert_allclose(transmit_energy_j(1e-3, [8e6, 8e6, 0.0], [1e8, 0.0, 0.0]), [8e-5, math.inf, 0.0])


def test_qos_eq48_hand_value():
    # w_L / L - w_E E = 0.7 / 0.01 - 0.3 * 0.5 = 69.85
    assert qos(0.01, 0.5) == pytest.approx(69.85)
    with pytest.raises(ValueError, match="latency_s"):
        qos(0.0, 0.0)


def test_qos_normalised_eq93_hand_value_and_clip():
    # Q = 69.85, Q_min = 60, Q_max = 80: 100 * 9.85 / 20 + 60 = 109.25
    assert qos_normalised(0.01, 0.5, q_max=80.0) == pytest.approx(109.25)
    assert qos_normalised(0.01, 0.5, q_max=80.0, clip=True) == 100.0
    with pytest.raises(ValueError, match="q_max"):
        qos_normalised(0.01, 0.5, q_max=50.0)
