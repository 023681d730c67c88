# scikit-learn's handwritten digits (embedded, no download): 1,438 train and
# 359 validation images (20% of each class held out), 10 classes, upsampled
# to `image_size` pixels.
image_size = 16
dataset_type = 'gml.DigitsDataset'
data_preprocessor = dict(
    num_classes=10,
    mean=[77.8, 77.8, 77.8],
    std=[95.9, 95.9, 95.9],
    to_rgb=False,
)

train_pipeline = [
    dict(type='RandomCrop', crop_size=image_size, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(type=dataset_type, split='train', image_size=image_size,
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=0,
    dataset=dict(type=dataset_type, split='val', image_size=image_size,
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
