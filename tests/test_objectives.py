"""twin-migration Eq. 8, 13–16 on hand-computed examples."""

import numpy as np
import pytest

from models.objectives import (
    load_variance,
    migration_failed,
    objectives,
    packet_loss_rate,
    server_load_bits,
    total_latency_s,
)


def test_eq8_adds_each_vehicles_data_to_its_server():
    out = server_load_bits(np.array([1.0, 2.0, 3.0]), np.array([0, 0, 2, -1]), np.array([10.0, 20.0, 30.0, 40.0]))
    np.testing.assert_array_equal(out, [31.0, 2.0, 33.0])


def test_eq13_14_15():
    assert total_latency_s(1.0, 2.0, 3.0, 4.0) == 10.0
    np.testing.assert_array_equal(
        migration_failed([1300.0, 100.0, 100.0], [1200.0, 1200.0, 1200.0], [1.0, 5.0, 1.0], [2.0, 2.0, 2.0]),
        [True, True, False],
    )
    assert packet_loss_rate(np.array([1, 0, 0, 1])) == 0.5


def test_variance_is_the_papers_sum_of_squares():
    # loads 1, 2, 3: mean 2, sum of squared deviations 2 (not 2/3)
    assert load_variance(np.array([1.0, 2.0, 3.0])) == pytest.approx(2.0)
    o = objectives(np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([0.25, 0.5]))
    assert o == {"O_T": 3.0, "O_V": 7.0, "O_D": 0.75}
