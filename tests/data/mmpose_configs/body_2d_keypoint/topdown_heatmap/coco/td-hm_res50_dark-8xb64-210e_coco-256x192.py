_base_ = ['./td-hm_res50_8xb64-210e_coco-256x192.py']

# the DARK variant: an unbiased codec with a blur kernel for the refinement
codec = dict(
    type='MSRAHeatmap',
    input_size=(192, 256),
    heatmap_size=(48, 64),
    sigma=2,
    unbiased=True,
    blur_kernel_size=11)

# only the decoder changes in the head: the rest merges from the base
model = dict(head=dict(decoder=codec))

# the base's optimizer is replaced, not merged
optim_wrapper = dict(
    _delete_=True, type='AmpOptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
