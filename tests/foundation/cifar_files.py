"""Write small datasets in the official ``cifar-*-python`` pickle layout."""
import os
import pickle

import numpy as np


def write_cifar10(root, per_batch=6, seed=0):
    """Five train batches and a test batch; returns (images, labels) by split."""
    rng = np.random.RandomState(seed)
    folder = os.path.join(root, 'cifar-10-batches-py')
    os.makedirs(folder, exist_ok=True)
    written = {'train': ([], []), 'test': ([], [])}
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    for name in names:
        data = rng.randint(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.randint(0, 10, per_batch)]
        with open(os.path.join(folder, name), 'wb') as f:
            pickle.dump({'data': data, 'labels': labels}, f)
        split = 'test' if name == 'test_batch' else 'train'
        written[split][0].append(data)
        written[split][1].extend(labels)
    with open(os.path.join(folder, 'batches.meta'), 'wb') as f:
        pickle.dump({'label_names': [f'class{i}' for i in range(10)]}, f)
    return {k: (np.concatenate(v[0]), v[1]) for k, v in written.items()}


def write_cifar100(root, n=8, seed=0):
    rng = np.random.RandomState(seed)
    folder = os.path.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    out = {}
    for name in ('train', 'test'):
        data = rng.randint(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.randint(0, 100, n)]
        with open(os.path.join(folder, name), 'wb') as f:
            pickle.dump({'data': data, 'fine_labels': labels}, f)
        out[name] = (data, labels)
    with open(os.path.join(folder, 'meta'), 'wb') as f:
        pickle.dump({'fine_label_names': [f'c{i}' for i in range(100)]}, f)
    return out
