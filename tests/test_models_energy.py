"""Energy and QoS (quantum-DRL Eq. 48, 54-55, 93)."""

import math

import numpy as np
import pytest
from _ieee import BAD, EDGES, error_of, same_bits

from models.energy import (
    processing_energy_j,
    processing_energy_scalar_j,
    qos,
    qos_normalised,
    qos_scalar,
    transmit_energy_j,
    transmit_energy_scalar_j,
)


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


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's, at inf * 0 and overflow
def test_scalar_variants_give_the_array_functions_bits_and_errors():
    """The closed form's scalar variants (no numpy per call) are the array functions on one
    number: the same IEEE results at zeros, tiny, huge and infinite values, the same one-line
    errors for NaN and negative inputs."""
    for p in EDGES + BAD:
        for d in EDGES + BAD:
            for r in EDGES + BAD:
                err = error_of(transmit_energy_j, p, d, r)
                assert error_of(transmit_energy_scalar_j, p, d, r) == err, (p, d, r)
                if err is None:
                    assert same_bits(transmit_energy_scalar_j(p, d, r), transmit_energy_j(p, d, r)), (p, d, r)
                err = error_of(processing_energy_j, p, d, r)
                assert error_of(processing_energy_scalar_j, p, d, r) == err, (p, d, r)
                if err is None:
                    assert same_bits(processing_energy_scalar_j(p, d, r), processing_energy_j(p, d, r)), (p, d, r)
            err = error_of(qos, p, d, w_l=0.7, w_e=0.3)
            assert error_of(qos_scalar, p, d, w_l=0.7, w_e=0.3) == err, (p, d)
            if err is None:
                assert same_bits(qos_scalar(p, d, w_l=0.7, w_e=0.3), qos(p, d, w_l=0.7, w_e=0.3)), (p, d)
    rng = np.random.default_rng(0)
    for p, d, r in 10.0 ** rng.uniform(-6, 9, (2000, 3)):
        assert transmit_energy_scalar_j(p, d, r) == float(transmit_energy_j(p, d, r))
        assert processing_energy_scalar_j(d, r, p) == float(processing_energy_j(d, r, p))
        assert qos_scalar(d, p) == float(qos(d, p))
