_base_ = ['../../../_base_/default_runtime.py']

train_cfg = dict(max_epochs=20, val_interval=1)

# codec settings
codec = dict(
    type='Hand3DHeatmap',
    image_size=[256, 256],
    root_heatmap_size=64,
    heatmap_size=[64, 64, 64],
    sigma=2.5,
    max_bound=255,
    depth_size=64)

num_hand_keypoints = 21

model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50),
    head=dict(
        type='InternetHead',
        keypoint_head_cfg=dict(
            in_channels=2048,
            out_channels=num_hand_keypoints * codec['heatmap_size'][2],
            depth_size=codec['depth_size'],
            deconv_out_channels=(256, 256, 256),
            deconv_kernel_sizes=(4, 4, 4),
        ),
        root_head_cfg=dict(
            in_channels=2048,
            heatmap_size=codec['root_heatmap_size'],
            hidden_dims=(512, ),
        ),
        hand_type_head_cfg=dict(
            in_channels=2048,
            num_labels=2,
            hidden_dims=(512, ),
        ),
        decoder=codec),
    test_cfg=dict(flip_test=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['image_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(
        type='PackPoseInputs',
        meta_keys=('id', 'img_id', 'img_path', 'rotation', 'img_shape',
                   'focal', 'principal_pt', 'input_size', 'input_center',
                   'input_scale', 'hand_type', 'hand_type_valid', 'flip',
                   'flip_indices', 'abs_depth'))
]
