_base_ = ['../../../_base_/default_runtime.py']

train_cfg = dict(max_epochs=210, val_interval=10)

# codec settings
codec = dict(type='RegressionLabel', input_size=(192, 256))

model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='RLEHead',
        in_channels=2048,
        num_joints=17,
        loss=dict(type='RLELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, shift_coords=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
