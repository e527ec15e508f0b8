_base_ = ['../../../_base_/default_runtime.py']

train_cfg = dict(max_epochs=300, val_interval=10)

# the keypoint order the grouping visits: head, shoulders, hips, then limbs
head_and_trunk = [0, 1, 2, 3, 4, 5, 6, 11, 12]
limbs = [7, 8, 9, 10, 13, 14, 15, 16]

codec = dict(
    type='AssociativeEmbedding',
    input_size=(512, 512),
    heatmap_size=(128, 128),
    sigma=2,
    decode_topk=30,
    decode_center_shift=0.5,
    decode_keypoint_order=head_and_trunk + limbs,
    decode_max_instances=30)

model = dict(
    type='BottomupPoseEstimator',
    backbone=dict(type='HRNet', in_channels=3),
    head=dict(
        type='AssociativeEmbeddingHead',
        in_channels=32,
        num_keypoints=17,
        tag_dim=1,
        tag_per_keypoint=True,
        deconv_out_channels=None,
        keypoint_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        tag_loss=dict(type='AssociativeEmbeddingLoss', loss_weight=0.001),
        decoder=dict(codec, heatmap_size=codec['input_size'])),
    test_cfg=dict(
        multiscale_test=False,
        flip_test=True,
        shift_heatmap=False,
        restore_heatmap_size=True,
        align_corners=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
