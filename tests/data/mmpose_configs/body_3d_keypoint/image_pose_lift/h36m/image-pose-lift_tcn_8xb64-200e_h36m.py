_base_ = ['../../../_base_/default_runtime.py']

train_cfg = dict(max_epochs=200, val_interval=10)

num_keypoints = 17

# Normalisation statistics of the 3-D targets (the root removed) and of the
# 2-D inputs, written out per keypoint.
target_mean = [[0.01 * k, -0.02 * k, 0.005 * k] for k in range(1, num_keypoints)]
target_std = [[0.1 + 0.01 * k, 0.12, 0.15 - 0.002 * k]
              for k in range(1, num_keypoints)]
keypoints_mean = [[530.0 + k, 420.0 - 5.5 * k] for k in range(num_keypoints)]
keypoints_std = [[110.0 - k, 60.0 + 1.5 * k] for k in range(num_keypoints)]

codec = dict(
    type='ImagePoseLifting',
    num_keypoints=num_keypoints,
    root_index=0,
    remove_root=True,
    target_mean=target_mean,
    target_std=target_std,
    keypoints_mean=keypoints_mean,
    keypoints_std=keypoints_std)

model = dict(
    type='PoseLifter',
    backbone=dict(
        type='TCN',
        in_channels=2 * num_keypoints,
        stem_channels=1024,
        num_blocks=2,
        kernel_sizes=(1, 1, 1),
        dropout=0.5,
    ),
    head=dict(
        type='TemporalRegressionHead',
        in_channels=1024,
        num_joints=num_keypoints - 1,
        loss=dict(type='MSELoss'),
        decoder=codec,
    ))

train_pipeline = [
    dict(type='GenerateTarget', encoder=codec),
    dict(
        type='PackPoseInputs',
        meta_keys=('id', 'category_id', 'target_img_path', 'flip_indices',
                   'target_root', 'target_root_index', 'target_mean',
                   'target_std'))
]
