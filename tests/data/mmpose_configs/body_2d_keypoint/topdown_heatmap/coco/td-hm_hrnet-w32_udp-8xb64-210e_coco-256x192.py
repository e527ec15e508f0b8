_base_ = '../../../_base_/default_runtime.py'

# sizes written once and derived
input_size = (192, 256)
stride = 4
heatmap_size = tuple(s // stride for s in input_size)

codec = dict(
    type='UDPHeatmap',
    input_size=input_size,
    heatmap_size=heatmap_size,
    sigma=2)

model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(
                num_modules=1,
                num_branches=1,
                block='BOTTLENECK',
                num_blocks=(4, ),
                num_channels=(64, )),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block='BASIC',
                num_blocks=(4, 4),
                num_channels=(32, 64)))),
    head=dict(
        type='HeatmapHead',
        in_channels=32,
        out_channels=17,
        deconv_out_channels=None,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))

train_pipeline = [
    dict(type='LoadImage', backend_args={{_base_.backend_args}}),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]

# the combined UDP target, as a second codec in its own name
combined_codec = dict(
    codec,
    heatmap_type='combined',
    radius_factor=0.0546875,
    sigma=None)
del combined_codec['sigma']

work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
