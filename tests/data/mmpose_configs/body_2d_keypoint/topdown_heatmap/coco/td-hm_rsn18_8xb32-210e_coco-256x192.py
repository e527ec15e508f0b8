_base_ = ['../../../_base_/default_runtime.py']

# one Megvii codec per unit of the multi-stage network, from large to small
kernel_sizes = [11, 9, 7, 5]
codec = [
    dict(
        type='MegviiHeatmap',
        input_size=(192, 256),
        heatmap_size=(48, 64),
        kernel_size=kernel_size) for kernel_size in kernel_sizes
]

model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='RSN', unit_channels=256, num_stages=1, num_units=4),
    head=dict(
        type='MSPNHead',
        out_shape=(64, 48),
        unit_channels=256,
        out_channels=17,
        num_stages=1,
        num_units=4,
        norm_cfg=dict(type='BN'),
        loss=[dict(type='KeypointMSELoss', use_target_weight=True)] * 3 +
        [dict(type='KeypointOHKMMSELoss', use_target_weight=True)],
        decoder=codec[-1]),
    test_cfg=dict(flip_test=True, shift_heatmap=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec[0]['input_size']),
    dict(type='GenerateTarget', multilevel=True, encoder=codec),
    dict(type='PackPoseInputs')
]
