_base_ = './yoloxpose_s_8xb32-300e_coco-640.py'

# a smaller input: the annotation processor follows it
input_size = (416, 416)
codec = dict(input_size=input_size)

widen_factor = 0.375
deepen_factor = 0.33

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(
            type='BatchSyncRandomResize',
            random_size_range=(320, 640),
            size_divisor=32,
            interval=1),
    ]),
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(in_channels=[96, 192, 384], out_channels=96),
    head=dict(head_module_cfg=dict(widen_factor=widen_factor)))

train_pipeline_stage1 = [
    dict(type='LoadImage', backend_args=None),
    dict(
        type='Mosaic',
        img_scale=_base_.input_size,
        pad_val=114.0,
        pre_transform=[dict(type='LoadImage', backend_args=None)]),
    dict(
        type='BottomupRandomAffine',
        input_size=_base_.input_size,
        shift_factor=0.1,
        rotate_factor=10,
        scale_factor=(0.75, 1.0),
        pad_val=114),
    dict(type='RandomFlip'),
    dict(type='GenerateTarget', encoder=_base_.codec),
    dict(type='PackPoseInputs'),
]
