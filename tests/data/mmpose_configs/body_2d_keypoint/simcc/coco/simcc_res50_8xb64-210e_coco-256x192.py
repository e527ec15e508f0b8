_base_ = [
    '../../../_base_/default_runtime.py', '../../../_base_/datasets/coco.py'
]

# runtime
train_cfg = dict(max_epochs=140, val_interval=10)

# codec settings
codec = dict(
    type='SimCCLabel', input_size=(192, 256), sigma=6.0, simcc_split_ratio=2.0)

num_keypoints = len(_base_.dataset_info.keypoint_info)

model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50),
    head=dict(
        type='SimCCHead',
        in_channels=2048,
        out_channels=num_keypoints,
        input_size=codec['input_size'],
        in_featuremap_size=tuple([s // 32 for s in codec['input_size']]),
        simcc_split_ratio=codec['simcc_split_ratio'],
        loss=dict(type='KLDiscretLoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
