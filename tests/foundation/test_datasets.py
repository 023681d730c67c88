"""Embedded digits, CIFAR folders written by the test, and missing data."""
import numpy as np
import pytest
import torch

from gml.datasets import CIFAR10, CIFAR100, DigitsDataset, check_data_available
from gml.errors import ConfigError, DataNotFoundError

from .cifar_files import write_cifar10, write_cifar100


def test_digits_split_is_deterministic_stratified_and_disjoint():
    from sklearn.datasets import load_digits
    train = DigitsDataset(split='train')
    val = DigitsDataset(split='val')
    assert len(train) + len(val) == 1797
    # per class: round(0.2 * n_c) validation images
    counts = np.bincount(load_digits().target)
    assert len(val) == sum(int(round(0.2 * c)) for c in counts) == 359
    val_labels = np.bincount([val.get_data_info(i)['gt_label']
                              for i in range(len(val))])
    assert list(val_labels) == [int(round(0.2 * c)) for c in counts]
    again = DigitsDataset(split='val')
    assert all(np.array_equal(val.get_data_info(i)['img'],
                              again.get_data_info(i)['img'])
               for i in range(len(val)))
    train_imgs = {train.get_data_info(i)['img'].tobytes()
                  for i in range(len(train))}
    val_imgs = [val.get_data_info(i)['img'].tobytes() for i in range(len(val))]
    assert sum(v in train_imgs for v in val_imgs) <= 2  # only true duplicates
    other = DigitsDataset(split='val', split_seed=1)
    assert any(not np.array_equal(val.get_data_info(i)['img'],
                                  other.get_data_info(i)['img'])
               for i in range(len(val)))


def test_digits_pixels_are_the_sklearn_images_scaled():
    from sklearn.datasets import load_digits
    raw = load_digits()
    data = DigitsDataset(split='train', image_size=8)
    info = data.get_data_info(0)
    img = info['img']
    assert img.shape == (8, 8, 3) and img.dtype == np.uint8
    matches = [i for i in range(len(raw.images))
               if np.array_equal(np.rint(raw.images[i] * 255 / 16), img[..., 0])]
    assert matches and raw.target[matches[0]] == info['gt_label']
    assert np.array_equal(img[..., 0], img[..., 2])


def test_digits_image_size_and_pipeline():
    data = DigitsDataset(split='val', image_size=20,
                         pipeline=[dict(type='PackInputs')])
    item = data[0]
    info = data.get_data_info(0)
    assert info['img'].shape == (20, 20, 3)
    # PackInputs gives the same pixels channel-first, and the same label
    assert torch.equal(item['inputs'],
                       torch.from_numpy(info['img']).permute(2, 0, 1))
    assert item['data_samples'].gt_label.tolist() == [info['gt_label']]


def test_digits_bad_arguments_name_the_key():
    with pytest.raises(ConfigError, match="DigitsDataset.split: expected one"):
        DigitsDataset(split='training')
    with pytest.raises(ConfigError, match='DigitsDataset.val_ratio'):
        DigitsDataset(val_ratio=1.5)


def test_cifar10_reads_a_folder_in_the_official_layout(tmp_path):
    written = write_cifar10(str(tmp_path))
    train = CIFAR10(data_root=str(tmp_path), split='train')
    test = CIFAR10(data_root=str(tmp_path), split='test')
    assert len(train) == 30 and len(test) == 6
    expected = written['train'][0][7].reshape(3, 32, 32).transpose(1, 2, 0)
    assert np.array_equal(train.get_data_info(7)['img'], expected)
    assert train.get_data_info(7)['gt_label'] == written['train'][1][7]
    assert [test.get_data_info(i)['gt_label'] for i in range(6)] == \
        written['test'][1]


def test_cifar100_reads_fine_labels(tmp_path):
    written = write_cifar100(str(tmp_path))
    data = CIFAR100(data_root=str(tmp_path), split='test')
    assert [data.get_data_info(i)['gt_label'] for i in range(8)] == \
        written['test'][1]


def test_cifar_md5_check_is_optional(tmp_path):
    write_cifar10(str(tmp_path))
    # the random files do not have the official checksums: with the check
    # on they are refused as such (not reported missing); off, they load
    folder = tmp_path / 'cifar-10-batches-py'
    with pytest.raises(DataNotFoundError) as info:
        CIFAR10(data_root=str(tmp_path), split='train', verify_md5=True)
    assert str(info.value) == (
        f'CIFAR10: the files in {folder} do not have the official checksums '
        '(verify_md5=True); replace them with the files of '
        'cifar-10-python.tar.gz, or set verify_md5=False')
    assert len(CIFAR10(data_root=str(tmp_path), split='train')) == 30


def test_missing_cifar_names_the_expected_path_and_never_downloads(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        CIFAR10(data_root=str(tmp_path / 'none'), download=True)
    message = str(info.value)
    assert str(tmp_path / 'none' / 'cifar-10-batches-py') in message
    assert 'data_batch_1' in message and 'never downloads' in message


def test_preflight_checks_every_dataloader(tmp_path):
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    write_cifar10(str(tmp_path / 'ok'))
    cfg = dict(
        train_dataloader=dict(dataset=dict(
            type='gml.CIFAR10', data_root=str(tmp_path / 'ok'))),
        val_dataloader=dict(dataset=dict(
            type='RepeatDataset', times=2,
            dataset=dict(type='CIFAR10', data_root=str(tmp_path / 'nope'),
                         download=True))))
    with pytest.raises(DataNotFoundError,
                       match=r'^val_dataloader\.dataset\.dataset: CIFAR10'):
        check_data_available(cfg)
    assert cfg['val_dataloader']['dataset']['dataset']['download'] is False
    folder = dict(train_dataloader=dict(dataset=dict(
        type='ImageNet', data_root=str(tmp_path / 'imagenet'), split='train')))
    with pytest.raises(DataNotFoundError, match='train_dataloader.dataset.'
                       'data_root: ImageNet data not found at'):
        check_data_available(folder)
    fine = dict(train_dataloader=dict(dataset=dict(type='gml.DigitsDataset')))
    check_data_available(fine)


def test_a_cifar_split_needs_only_its_own_files(tmp_path):
    # a machine that only evaluates has test_batch and batches.meta alone
    written = write_cifar10(str(tmp_path))
    folder = tmp_path / 'cifar-10-batches-py'
    for i in range(1, 6):
        (folder / f'data_batch_{i}').unlink()
    test = CIFAR10(data_root=str(tmp_path), split='test', pipeline=[])
    images, labels = written['test']
    assert [test.get_data_info(i)['gt_label'] for i in range(len(test))] == \
        [int(v) for v in labels]
    assert len(test) == len(images) == 6
    expected = (f'CIFAR10 data not found: expected the folder {folder} with '
                'data_batch_1, data_batch_2, data_batch_3, data_batch_4, '
                'data_batch_5 (gml never downloads data;')
    with pytest.raises(DataNotFoundError) as error:
        CIFAR10(data_root=str(tmp_path), split='train', pipeline=[])
    assert str(error.value).startswith(expected)
    cfg = dict(test_dataloader=dict(dataset=dict(
        type='gml.CIFAR10', data_root=str(tmp_path), split='test')),
        train_dataloader=dict(dataset=dict(
            type='gml.CIFAR10', data_root=str(tmp_path), split='train')))
    check_data_available(cfg, ('test_dataloader', ))
    with pytest.raises(DataNotFoundError) as error:
        check_data_available(cfg)
    assert str(error.value).startswith('train_dataloader.dataset: ' + expected)
