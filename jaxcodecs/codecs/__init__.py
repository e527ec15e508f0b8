"""Codec implementations, one module per codec family."""

from jaxcodecs.codecs.associative_embedding import AssociativeEmbedding
from jaxcodecs.codecs.decoupled_heatmap import DecoupledHeatmap
from jaxcodecs.codecs.edpose import EDPoseLabel
from jaxcodecs.codecs.hand3d import Hand3DHeatmap
from jaxcodecs.codecs.lifting import ImagePoseLifting, VideoPoseLifting
from jaxcodecs.codecs.motionbert import MotionBERTLabel
from jaxcodecs.codecs.regression import IntegralRegressionLabel, RegressionLabel
from jaxcodecs.codecs.simcc import SimCCLabel
from jaxcodecs.codecs.spr import SPR
from jaxcodecs.codecs.topdown_heatmap import MSRAHeatmap, MegviiHeatmap, UDPHeatmap
from jaxcodecs.codecs.yolox import YOLOXPoseAnnotationProcessor

__all__ = ["MSRAHeatmap", "MegviiHeatmap", "UDPHeatmap", "RegressionLabel", "IntegralRegressionLabel", "SimCCLabel", "ImagePoseLifting", "VideoPoseLifting", "MotionBERTLabel", "Hand3DHeatmap", "AssociativeEmbedding", "SPR", "EDPoseLabel", "YOLOXPoseAnnotationProcessor", "DecoupledHeatmap"]
