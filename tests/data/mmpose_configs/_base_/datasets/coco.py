# A shortened COCO description: the first keypoints only.
dataset_info = dict(
    dataset_name='coco',
    paper_info=dict(title='Microsoft COCO: Common Objects in Context'),
    keypoint_info={
        0: dict(name='nose', id=0, color=[51, 153, 255], type='upper', swap=''),
        1: dict(
            name='left_eye',
            id=1,
            color=[51, 153, 255],
            type='upper',
            swap='right_eye'),
        2: dict(
            name='right_eye',
            id=2,
            color=[51, 153, 255],
            type='upper',
            swap='left_eye'),
    },
    skeleton_info={
        0: dict(link=('left_eye', 'nose'), id=0, color=[51, 153, 255]),
    },
    joint_weights=[1.] * 3,
    sigmas=[0.026, 0.025, 0.025])
