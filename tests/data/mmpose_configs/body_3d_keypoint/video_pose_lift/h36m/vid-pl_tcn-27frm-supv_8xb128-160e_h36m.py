_base_ = ['../../../_base_/default_runtime.py']

vis_backends = [
    dict(type='LocalVisBackend'),
]
visualizer = dict(
    type='Pose3dLocalVisualizer', vis_backends=vis_backends, name='visualizer')

train_cfg = dict(max_epochs=160, val_interval=10)

# the temporal receptive field: three layers of kernel 3
kernel_sizes = (3, 3, 3)
num_frames = 1
for k in kernel_sizes:
    num_frames *= k

num_keypoints = 17

codec = dict(
    type='VideoPoseLifting',
    num_keypoints=num_keypoints,
    zero_center=True,
    root_index=0,
    remove_root=False)

model = dict(
    type='PoseLifter',
    backbone=dict(
        type='TCN',
        in_channels=2 * num_keypoints,
        stem_channels=1024,
        num_blocks=len(kernel_sizes) - 1,
        kernel_sizes=kernel_sizes,
        dropout=0.25,
    ),
    head=dict(
        type='TemporalRegressionHead',
        in_channels=1024,
        num_joints=num_keypoints,
        loss=dict(type='MPJPELoss'),
        decoder=codec,
    ))

train_pipeline = [
    dict(
        type='RandomFlipAroundRoot',
        keypoints_flip_cfg=dict(),
        target_flip_cfg=dict(),
    ),
    dict(type='GenerateTarget', encoder=codec),
    dict(
        type='PackPoseInputs',
        meta_keys=('id', 'category_id', 'target_img_path', 'flip_indices',
                   'target_root'))
]

train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        type='Human36mDataset',
        ann_file='annotation_body3d/fps50/h36m_train.npz',
        seq_len=num_frames,
        causal=False,
        pad_video_seq=True,
        camera_param_file='annotation_body3d/cameras.pkl',
        data_root='data/h36m/',
        pipeline=train_pipeline,
    ))
