"""Which of MMPose 1.3.2's 15 codecs jaxcodecs implements (all of them now),
and which are to come.

Written out by hand on purpose: the conformance run and the API tests check
the registry against these lists, so a codec that drops out of the registry
(renamed, an import that stopped registering it) fails loudly instead of
silently losing its golden cases. A codec moves from ``PLANNED`` to
``IMPLEMENTED`` in the commit that registers it.
"""

IMPLEMENTED = (
    "AssociativeEmbedding",
    "DecoupledHeatmap",
    "Hand3DHeatmap",
    "ImagePoseLifting",
    "IntegralRegressionLabel",
    "MSRAHeatmap",
    "MegviiHeatmap",
    "MotionBERTLabel",
    "RegressionLabel",
    "SimCCLabel",
    "SPR",
    "UDPHeatmap",
    "VideoPoseLifting",
    "EDPoseLabel",
    "YOLOXPoseAnnotationProcessor",
)

PLANNED: tuple[str, ...] = ()

# SPEC §1: all 15 codecs of MMPose 1.3.2, under MMPose's type names.
MMPOSE_CODECS = frozenset(IMPLEMENTED) | frozenset(PLANNED)
