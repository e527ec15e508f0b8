from mmengine.config import read_base

with read_base():
    from ._base_.py_default_runtime import default_hooks, train_cfg

from mmengine.dataset import DefaultSampler
from mmengine.optim import MultiStepLR
from torch.nn import GroupNorm
from torch.optim import Adam

from mmpose.codecs import EDPoseLabel
from mmpose.datasets import (BottomupRandomChoiceResize, BottomupRandomCrop,
                             CocoDataset, LoadImage, PackPoseInputs,
                             RandomFlip)
from mmpose.models import (BottomupPoseEstimator, ChannelMapper, EDPoseHead,
                           PoseDataPreprocessor, ResNet)

# runtime: the base's dicts are updated in place
train_cfg.update(max_epochs=50, val_interval=10)
default_hooks.update(
    checkpoint=dict(save_best='coco/AP', rule='greater'))

optim_wrapper = dict(optimizer=dict(type=Adam, lr=1e-4))
param_scheduler = [dict(type=MultiStepLR, milestones=[40], gamma=0.1)]

# codec settings
codec = dict(type=EDPoseLabel, num_select=50, num_keypoints=17)

model = dict(
    type=BottomupPoseEstimator,
    data_preprocessor=dict(
        type=PoseDataPreprocessor,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=1),
    backbone=dict(type=ResNet, depth=50, num_stages=4),
    neck=dict(
        type=ChannelMapper,
        in_channels=[512, 1024, 2048],
        out_channels=256,
        norm_cfg=dict(type=GroupNorm, num_groups=32)),
    head=dict(
        type=EDPoseHead,
        num_queries=900,
        num_feature_levels=4,
        num_keypoints=17,
        as_two_stage=True,
        data_decoder=codec),
    test_cfg=dict(multiscale_test=False, flip_test=False))

train_pipeline = [
    dict(type=LoadImage),
    dict(type=RandomFlip, direction='horizontal'),
    dict(
        type=BottomupRandomChoiceResize,
        transforms=[[
            dict(type=BottomupRandomCrop, crop_size=(384, 600)),
        ]]),
    dict(type=PackPoseInputs),
]

train_dataloader = dict(
    batch_size=2,
    sampler=dict(type=DefaultSampler, shuffle=True),
    dataset=dict(type=CocoDataset, pipeline=train_pipeline))
