import os.path as osp

import torch
import torch.nn as nn
from torch.optim import AdamW

from mmpose.models import HeatmapHead

# values built from imports: never evaluated, and no codec depends on them
num_gpus = torch.cuda.device_count()
work_dir = osp.join('./work_dirs', osp.splitext(osp.basename('x.py'))[0])
optim_wrapper = dict(optimizer=dict(type=AdamW, lr=5e-4 * max(num_gpus, 1)))

codec = dict(
    type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)

model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50, norm_eval=torch.__version__ > '2'),
    head=dict(
        type=HeatmapHead,
        in_channels=2048,
        out_channels=17,
        final_layer=dict(kernel_size=1, act=nn.ReLU()),
        decoder=codec))


def make_pipeline(size):
    return [dict(type='TopdownAffine', input_size=size)]


val_pipeline = make_pipeline(codec['input_size'])
