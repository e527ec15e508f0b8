_base_ = ['../../../_base_/default_runtime.py']

train_cfg = dict(max_epochs=140, val_interval=10)

codec = dict(
    type='DecoupledHeatmap', input_size=(512, 512), heatmap_size=(128, 128))

model = dict(
    type='BottomupPoseEstimator',
    backbone=dict(type='HRNet', in_channels=3),
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(
        type='CIDHead',
        in_channels=480,
        num_keypoints=17,
        gfd_channels=32,
        coupled_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=1.0),
        decoupled_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=4.0),
        contrastive_loss=dict(
            type='InfoNCELoss', temperature=0.05, loss_weight=1.0),
        decoder=codec,
    ),
    train_cfg=dict(max_train_instances=200),
    test_cfg=dict(
        multiscale_test=False,
        flip_test=True,
        shift_heatmap=False,
        align_corners=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
