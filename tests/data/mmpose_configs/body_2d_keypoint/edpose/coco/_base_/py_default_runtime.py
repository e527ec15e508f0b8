from mmengine.hooks import CheckpointHook, LoggerHook

default_scope = None

default_hooks = dict(
    logger=dict(type=LoggerHook, interval=50),
    checkpoint=dict(type=CheckpointHook, interval=10, max_keep_ckpts=3),
)

train_cfg = dict(by_epoch=True)
