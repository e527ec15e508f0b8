_base_ = ['../../../_base_/default_runtime.py']

train_cfg = dict(max_epochs=210, val_interval=10)

# codec settings: the DSNT-style head regresses from normalised heatmaps
codec = dict(
    type='IntegralRegressionLabel',
    input_size=(256, 256),
    heatmap_size=(64, 64),
    sigma=2.0,
    normalize=True)

model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50),
    head=dict(
        type='DSNTHead',
        in_channels=2048,
        in_featuremap_size=(8, 8),
        num_joints=17,
        loss=dict(
            type='MultipleLossWrapper',
            losses=[
                dict(type='SmoothL1Loss', use_target_weight=True),
                dict(type='JSDiscretLoss', use_target_weight=True)
            ]),
        decoder=codec),
    test_cfg=dict(flip_test=True, shift_coords=True, shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
