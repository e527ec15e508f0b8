"""Audits of the float32 arithmetic that decides ties, in every codec's program.

The first audit is for divisions. XLA:CPU's division is correctly rounded,
as NumPy's is, but XLA rewrites a division by a broadcast value as a product
with its reciprocal (the kpt_center root was one ulp off NumPy that way),
and a GPU's float32 division need not be correctly rounded. Where a quotient
is then rounded, truncated or compared with a threshold (a keypoint on a
half pixel, a mean tag at a distance of exactly 0.5, a root truncated to its
pixel), one ulp moves the answer, so those divisions go through
:func:`jaxcodecs.ops.divide_exact`, which keeps the division and corrects
the quotient on every platform other than CPU. A CPU run cannot see the
GPU's differences, so this module checks the programs instead: it traces
each codec's ``batch_encode`` and ``batch_decode`` (every example
configuration, both modes) and finds each float32 division whose quotient is
not handed to ``divide_exact``'s platform-dependent correction. Every such
division must be in :data:`VALUE_DIVISIONS`, with the reason its quotient is
only ever a value (a Gaussian exponent, a normalisation, a Newton step) and
never decides a pixel, a window or a comparison at a tie. A new plain
division in a codec's path fails here until it is either made exact or
listed with its reason.

The second audit is for fused multiply-adds: XLA:CPU, like GPU compilers,
contracts ``a * b + c`` into one rounding where NumPy rounds twice. It
finds every float32 product by a factor that is not a constant power of
two (those are exact) that reaches a ``round``, ``floor`` or ``ceil``
through additions; such a product must go through
:func:`jaxcodecs.ops.multiply_exact` or be listed in :data:`FUSED_PRODUCTS`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src import source_info_util
from jax.extend import core as jax_core

import jaxcodecs
from jaxcodecs import examples, ops

# (module file, function) -> why its quotient may be rounded by the backend.
VALUE_DIVISIONS = {
    ("heatmap.py", "gaussian_profile"): "the exponent -d^2 / 2 sigma^2 of a Gaussian sample",
    ("heatmap.py", "_paint"): "a profile divided by its sum (normalised heatmaps)",
    ("heatmap.py", "render_megvii_heatmaps"): "the blurred map divided by its peak",
    ("filters.py", "rescale_factor"): "a blurred channel rescaled to the raw channel's maximum",
    ("refine.py", "_solve_2x2"): "the DARK Newton step",
    ("refine.py", "refine_simcc_dark"): "the SimCC-DARK Newton step",
    ("windows.py", "modulated_step"): "the UDP-DARK Newton step",
    ("associative_embedding.py", "AssociativeEmbedding._finish"):
        "the instance score, a mean; the ranking of exact mode compares equal sums equally",
    ("instances.py", "radius"):
        "a box sigma (through a square root, never on a tie; r3 is not MMPose's float order anyway)",
    ("instances.py", "sigma"): "a box sigma, as above",
    ("instances.py", "box_instance_sigmas"): "a box sigma (and jnp.hypot's own division), as above",
    ("instances.py", "render_displacement_fields"): "the displacement weight 1 / diagonal",
    ("normalize.py", "root_relative"): "the root, a mean of joints, subtracted from the pose",
    ("normalize.py", "_image_frame"): "the aspect ratio of the image-frame normalisation",
    ("motionbert.py", "MotionBERTLabel.encode"): "the image-frame scale of the 3-D label",
    ("motionbert.py", "MotionBERTLabel.decode"): "the image-frame scale of the decoded pose",
    ("spr.py", "SPR._score_points"): "a score divided by the keypoint count",
    ("simcc.py", "axis_labels"): "a label normalised by its sum",
    ("gaussian_fit.py", "_solve"): "the least-squares Gaussian fit of exact-mode refinement",
    ("gaussian_fit.py", "<listcomp>"): "the fit's 1 / sigma^2 weights",
    ("offsets.py", "render_udp_offset_maps"): "an offset divided by the radius",
    ("topdown_heatmap.py", "MegviiHeatmap.decode"): "a score scaled to [0, 1]",
}


# (module file, function of the rounding) -> why a fused product there is accepted.
FUSED_PRODUCTS = {
    ("heatmap.py", "_windows"): (
        "the 3-sigma window ends of a traced sigma (DecoupledHeatmap's box sigmas): MMPose forms "
        "3 sigma as a float64 product, which float32 does not reproduce bit for bit either"),
}


def _sub_jaxprs(eqn):
    for value in eqn.params.values():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, jax_core.ClosedJaxpr):
                yield item.jaxpr
            elif isinstance(item, jax_core.Jaxpr):
                yield item


def _site(eqn, parent):
    frame = source_info_util.user_frame(eqn.source_info.traceback)
    if frame is None:  # inside a jitted jax.numpy function: where it was called
        return parent
    return frame.file_name.rsplit("/", 1)[-1], frame.function_name.rsplit(".<locals>.", 1)[-1]


def plain_divisions(jaxpr, parent=("?", "?")) -> list[tuple[str, str]]:
    """``(file name, function)`` of each float32 ``div`` in ``jaxpr`` (and
    its sub-jaxprs) whose quotient is not an operand of a ``cond`` chosen by
    ``platform_index`` (``divide_exact``'s correction). The function is the
    innermost name (a nested function's own name)."""
    platform = {id(v) for e in jaxpr.eqns if e.primitive.name == "platform_index" for v in e.outvars}
    corrected = {id(v) for e in jaxpr.eqns
                 if e.primitive.name == "cond" and id(e.invars[0]) in platform for v in e.invars[1:]}
    found = []
    for eqn in jaxpr.eqns:
        out = eqn.outvars[0]
        if eqn.primitive.name == "div" and out.aval.dtype == jnp.float32 and id(out) not in corrected:
            found.append(_site(eqn, parent))
        for sub in _sub_jaxprs(eqn):
            found += plain_divisions(sub, _site(eqn, parent))
    return found


_ROUNDINGS = {"round", "floor", "ceil"}
# Operations a rounded value is followed back through (they move or select
# values without rounding them again).
_CARRIERS = {"convert_element_type", "neg", "copy", "broadcast_in_dim", "reshape", "squeeze",
             "expand_dims", "slice", "dynamic_slice", "gather", "select_n", "clamp", "max", "min"}


def _power_of_two(value) -> bool:
    mantissa, _ = np.frexp(np.abs(np.asarray(value, np.float64)).ravel())
    return bool(np.all((mantissa == 0.5) | (mantissa == 0)))


def fused_products(jaxpr, parent=("?", "?")) -> list[tuple[str, str]]:
    """``(file name, function)`` of each rounding in ``jaxpr`` (and its
    sub-jaxprs) that a float32 product reaches through additions, the
    product's factors being neither all constant (XLA folds them) nor a
    literal power of two (exact). Trace with ``jax.disable_jit()`` so that
    jitted helpers are inlined and the chains stay in one jaxpr."""
    producer = {}
    constant = {id(v) for v in jaxpr.constvars}

    def is_constant(v):
        return isinstance(v, jax_core.Literal) or id(v) in constant

    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            producer[id(v)] = eqn
        if all(is_constant(v) for v in eqn.invars):
            constant |= {id(v) for v in eqn.outvars}

    def inexact_product(v):
        eqn = producer.get(id(v))
        if eqn is None or eqn.primitive.name != "mul" or eqn.outvars[0].aval.dtype != jnp.float32:
            return False
        if all(is_constant(u) for u in eqn.invars):
            return False
        literals = [u.val for u in eqn.invars if isinstance(u, jax_core.Literal)]
        return not (literals and all(_power_of_two(value) for value in literals))

    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in _ROUNDINGS:
            stack, seen = [eqn.invars[0]], set()
            while stack:
                v = stack.pop()
                if is_constant(v) or id(v) in seen or id(v) not in producer:
                    continue
                seen.add(id(v))
                source = producer[id(v)]
                if source.primitive.name in _CARRIERS:
                    stack += source.invars
                elif source.primitive.name in ("add", "sub"):
                    stack += source.invars
                    if any(inexact_product(u) for u in source.invars if not is_constant(u)):
                        found.append(_site(eqn, parent))
                        break
        for sub in _sub_jaxprs(eqn):
            found += fused_products(sub, _site(eqn, parent))
    return found


def _fused_of(fn, *args, **kwargs):
    with jax.disable_jit():
        return fused_products(jax.make_jaxpr(fn)(*args, **kwargs).jaxpr)


def _divisions_of(fn, *args, **kwargs):
    return plain_divisions(jax.make_jaxpr(fn)(*args, **kwargs).jaxpr)


def test_the_audit_finds_a_plain_division_and_passes_an_exact_one():
    x = jnp.arange(1.0, 5.0)
    assert _divisions_of(lambda v: v / 3.0, x) == [("test_exact_ties.py", "<lambda>")]
    assert _divisions_of(lambda v: ops.divide_exact(v, 3.0), x) == []
    # Inside loops and branches too.
    in_scan = _divisions_of(lambda v: jax.lax.scan(lambda c, e: (c / e, None), v[0], v)[0], x)
    assert in_scan == [("test_exact_ties.py", "<lambda>")]
    # Integer and float16 divisions are not float32 quotients.
    assert _divisions_of(lambda v: v // 2, jnp.arange(4)) == []
    assert _divisions_of(lambda v: v / 3.0, x.astype(jnp.float16)) == []


def test_the_audit_finds_a_product_fused_into_a_rounded_sum():
    x = jnp.arange(1.0, 5.0)
    assert _fused_of(lambda v: jnp.round(v * 3.0 + 0.5), x) == [("test_exact_ties.py", "<lambda>")]
    assert _fused_of(lambda v: jnp.floor((v * 3.0 - 1.0) + 0.25), x) == [("test_exact_ties.py", "<lambda>")]
    assert _fused_of(lambda v, w: jnp.ceil(v * w + 1.0), x, x) == [("test_exact_ties.py", "<lambda>")]
    # Exact products, folded constants, a product rounded directly, the exact op.
    assert _fused_of(lambda v: jnp.round(v * 0.25 + 0.5), x) == []
    assert _fused_of(lambda v: jnp.round(v + np.float32(3.0) * np.float32(1.7)), x) == []
    assert _fused_of(lambda v: jnp.round(v * 3.0), x) == []
    assert _fused_of(lambda v: jnp.round(ops.multiply_exact(v, 3) + 0.5), x) == []


def _example_jobs():
    for name in jaxcodecs.list_codecs():
        for index, config in enumerate(examples.get_examples(name).configs):
            for compat in (True, False):
                yield pytest.param(name, index, compat, id=f"{name}-{index}-{'compat' if compat else 'exact'}")


# Beyond the example configs: a depth axis whose size is not a power of two
# (the depth bin is a product by it, then windowed).
EXTRA_CONFIGS = {"Hand3DHeatmap-depth12": ("Hand3DHeatmap", {
    "image_size": (64, 64), "heatmap_size": (16, 16, 12), "depth_size": 12, "root_heatmap_size": 12,
    "heatmap_size_root": 12, "sigma": 2.0})}


def _codec_and_batch(name, index, compat):
    if isinstance(index, str):
        name, config = EXTRA_CONFIGS[index]
    else:
        config = examples.get_examples(name).configs[index]
    codec = jaxcodecs.build({"type": name, **config, "mmpose_compat": compat})
    return codec, examples.example_batch(codec, 2, name=name)


def _audited_jobs():
    yield from _example_jobs()
    for key, (name, _) in EXTRA_CONFIGS.items():
        for compat in (True, False):
            yield pytest.param(name, key, compat, id=f"{key}-{'compat' if compat else 'exact'}")


def _unexplained(audit, listed, name, index, compat):
    """Sites ``audit`` finds in the codec's two programs that ``listed`` lacks."""
    codec, batch = _codec_and_batch(name, index, compat)
    found = set(audit(codec.batch_encode, *batch.encode_args, **batch.encode_kwargs))
    found |= set(audit(codec.batch_decode, *batch.decode_args, **batch.decode_kwargs))
    return sorted(found - set(listed))


@pytest.mark.parametrize("name, index, compat", list(_audited_jobs()))
def test_every_plain_division_in_a_codec_only_makes_a_value(name, index, compat):
    unexplained = _unexplained(_divisions_of, VALUE_DIVISIONS, name, index, compat)
    assert not unexplained, (
        f"{name}: float32 divisions that the backend may round differently from NumPy: {unexplained}. "
        "Use ops.divide_exact where the quotient is rounded, truncated or compared, or list the site "
        "in VALUE_DIVISIONS with the reason it only makes a value.")


@pytest.mark.parametrize("name, index, compat", list(_audited_jobs()))
def test_no_product_is_fused_into_a_rounded_sum(name, index, compat):
    unexplained = _unexplained(_fused_of, FUSED_PRODUCTS, name, index, compat)
    assert not unexplained, (
        f"{name}: roundings of a sum with a float32 product that a compiler may fuse into one "
        f"multiply-add: {unexplained}. Use ops.multiply_exact for the product, or list the rounding "
        "in FUSED_PRODUCTS with the reason.")


def test_tie_deciding_ops_divide_exactly():
    """The ops whose quotients are truncated or compared hold no plain division."""
    rng = np.random.default_rng(0)
    values = -np.sort(-rng.uniform(0, 1, (3, 4)), axis=1).astype(np.float32)
    locations = rng.uniform(0, 8, (3, 4, 2)).astype(np.float32)
    tags = rng.uniform(-2, 2, (3, 4, 2)).astype(np.float32)
    assert _divisions_of(lambda v, l, t: ops.group_keypoints_by_tags(v, l, t, (0, 1, 2), 0.1, 1.0, 12),
                         values, locations, tags) == []
    keypoints = rng.uniform(0, 8, (5, 3, 2)).astype(np.float32)
    scores = rng.uniform(0, 1, (5, 3)).astype(np.float32)
    heatmaps = rng.uniform(0, 1, (3, 8, 8)).astype(np.float32)
    tag_maps = rng.uniform(-2, 2, (6, 8, 8)).astype(np.float32)
    assert _divisions_of(ops.fill_missing_keypoints_by_tags, keypoints, scores, np.ones(5, bool),
                         heatmaps, tag_maps) == []
    for root_type in ("kpt_center", "bbox_center"):
        assert _divisions_of(lambda k, v: ops.instance_roots(k, v, root_type), keypoints, scores) == []


@pytest.mark.parametrize("root_type", ["kpt_center", "bbox_center"])
def test_instance_roots_are_numpy_float32_means(root_type):
    """The roots the exact division gives, against NumPy's float32 (on CPU
    both are correctly rounded; the audit above keeps it so elsewhere)."""
    rng = np.random.default_rng(1)
    # Coordinates on a quarter-pixel grid: sums are exact, and many means
    # land exactly on whole or half pixels, where truncation is decided.
    keypoints = (rng.integers(0, 64, (40, 7, 2)) / 4).astype(np.float32)
    visible = (rng.uniform(0, 1, (40, 7)) > 0.3).astype(np.float32)
    roots, some = ops.instance_roots(keypoints, visible, root_type)
    counted = visible > 0
    if root_type == "kpt_center":
        total = np.where(counted[..., None], keypoints, 0).sum(axis=1, dtype=np.float32)
        count = np.maximum(counted.sum(axis=1), 1).astype(np.float32)
        expected = total / count[:, None]
    else:
        lo = np.where(counted[..., None], keypoints, np.inf).min(axis=1)
        hi = np.where(counted[..., None], keypoints, -np.inf).max(axis=1)
        expected = (hi + lo) / np.float32(2)
    expected = np.where(counted.any(axis=1)[:, None], expected, 0).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(roots), expected)
    np.testing.assert_array_equal(np.asarray(some), counted.any(axis=1).astype(np.float32))
