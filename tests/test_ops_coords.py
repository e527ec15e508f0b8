"""``ops.coords``: the input-to-map scale of each codec family (the
normalised regression labels are tested with RegressionLabel in
``test_codecs_regression_label.py``)."""

from fractions import Fraction

import numpy as np
import pytest

from jaxcodecs import ops

SIZES = [((192, 256), (48, 64)), ((288, 384), (72, 96)), ((256, 192), (63, 47)), ((17, 5), (3, 7))]


def exact_ratio(num, den):
    """``num / den`` rounded once from the exact rational to float32."""
    return np.float32(float(Fraction(num, den)))


@pytest.mark.parametrize("input_size, map_size", SIZES)
def test_scales_are_the_documented_ratios(input_size, map_size):
    expected = {
        "msra": [exact_ratio(i, m) for i, m in zip(input_size, map_size)],
        "udp": [exact_ratio(i - 1, m - 1) for i, m in zip(input_size, map_size)],
        "udp_mmpose": [exact_ratio(i, m - 1) for i, m in zip(input_size, map_size)],
    }
    for convention, ref in expected.items():
        scale = ops.input_to_map_scale(input_size, map_size, convention=convention)
        assert isinstance(scale, np.ndarray) and scale.dtype == np.float32 and scale.shape == (2,)
        np.testing.assert_array_equal(scale, np.asarray(ref, np.float32), err_msg=convention)
    np.testing.assert_array_equal(ops.input_to_map_scale(input_size, map_size), expected["msra"])


def test_udp_maps_first_and_last_pixel_centres_onto_each_other():
    scale = ops.input_to_map_scale((193, 257), (49, 65), convention="udp")
    np.testing.assert_array_equal(np.float32([192, 256]) / scale, [48, 64])


def test_three_axes_and_errors():
    np.testing.assert_array_equal(ops.input_to_map_scale((64, 64, 8), (16, 16, 4)), [4, 4, 2])
    with pytest.raises(ValueError, match="convention"):
        ops.input_to_map_scale((192, 256), (48, 64), convention="dark")
    with pytest.raises(ValueError, match="same length"):
        ops.input_to_map_scale((192, 256), (48, 64, 2))
