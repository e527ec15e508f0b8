_base_ = ['../../../_base_/default_runtime.py']

train_cfg = dict(max_epochs=240, val_interval=10)

# codecs: one for the training targets, one for evaluation
train_codec = dict(
    type='MotionBERTLabel', num_keypoints=17, concat_vis=True, mode='train')
val_codec = dict(
    type='MotionBERTLabel', num_keypoints=17, concat_vis=True, rootrel=True)

model = dict(
    type='PoseLifter',
    backbone=dict(
        type='DSTFormer',
        in_channels=3,
        feat_size=512,
        depth=5,
        num_heads=8,
        mlp_ratio=2,
        seq_len=243,
        att_fuse=True,
    ),
    head=dict(
        type='MotionRegressionHead',
        in_channels=512,
        out_channels=3,
        embedding_size=512,
        loss=dict(type='MPJPEVelocityJointLoss'),
        decoder=val_codec,
    ),
    test_cfg=dict(flip_test=True))

train_pipeline = [
    dict(type='GenerateTarget', encoder=train_codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='GenerateTarget', encoder=val_codec),
    dict(type='PackPoseInputs'),
]
