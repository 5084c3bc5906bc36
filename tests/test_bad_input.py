"""Every kind of bad input gets one line on stderr naming the problem and the fix, exit code 2, no traceback, and
leaves existing outputs alone."""
import os
from pathlib import Path

import pytest
from PIL import Image

from conftest import TINY


def assert_one_line_error(code, out, err, *needles):
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert 'Traceback' not in err and 'Traceback' not in out
    for n in needles: assert n in err, (n, err)


def snapshot(d: Path) -> dict:
    "Contents and modification times of every file under `d`."
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(Path(d).rglob('*')) if p.is_file()}


def test_missing_data_path(vcls, tmp_path):
    res = vcls('train', *TINY, '--data-path', tmp_path/'nowhere', '--output-dir', tmp_path/'run')
    assert_one_line_error(*res, 'nowhere does not exist', '--data-path')
    assert not (tmp_path/'run').exists()


def test_data_path_is_a_file(vcls, tmp_path):
    (tmp_path/'f.txt').write_text('x')
    assert_one_line_error(*vcls('train', *TINY, '--data-path', tmp_path/'f.txt'), 'is a file, not a folder')


def test_folder_without_train(vcls, folder):
    (folder/'train').rename(folder/'training')
    assert_one_line_error(*vcls('train', *TINY, '--data-path', folder), 'has no train/ folder', '/train/<class name>/')


def test_folder_without_validation(vcls, folder):
    (folder/'validation').rename(folder/'held_out')
    assert_one_line_error(*vcls('train', *TINY, '--data-path', folder), 'no validation/ or val/ folder')


@pytest.mark.slow
def test_val_folder_is_accepted(vcls, folder, tmp_path):
    (folder/'validation').rename(folder/'val')
    code, out, err = vcls('train', *TINY, '--data-path', folder, '--output-dir', tmp_path/'run')
    assert code == 0, err


def test_empty_class_folder(vcls, folder):
    (folder/'train'/'dog').mkdir()
    (folder/'validation'/'dog').mkdir()
    assert_one_line_error(*vcls('train', *TINY, '--data-path', folder), 'class folder', 'dog is empty')


def test_different_class_folders(vcls, folder):
    (folder/'validation'/'cat').rename(folder/'validation'/'cow')
    assert_one_line_error(*vcls('train', *TINY, '--data-path', folder), "only in train: ['cat']", "only in validation: ['cow']")


def _truncated(p):
    Image.new('RGB', (40, 40), 'red').save(p.with_suffix('.jpg'))
    data = p.with_suffix('.jpg').read_bytes()
    p.with_suffix('.jpg').write_bytes(data[:len(data) // 2])
    return p.with_suffix('.jpg')


BAD_FILES = {
    'corrupt': lambda p: (p.write_bytes(b'\x89PNG\r\n\x1a\n' + os.urandom(200)), p)[1],
    'truncated': _truncated,
    'zero_byte': lambda p: (p.write_bytes(b''), p)[1],
    'not_an_image': lambda p: (p.with_suffix('.txt').write_text('notes'), p.with_suffix('.txt'))[1],
    'text_named_png': lambda p: (p.write_text('this is not a png'), p)[1],
}


@pytest.mark.parametrize('kind', BAD_FILES)
def test_bad_image_names_the_file(vcls, folder, tmp_path, kind):
    bad = BAD_FILES[kind](folder/'train'/'bee'/f'{kind}.png')
    res = vcls('train', *TINY, '--data-path', folder, '--output-dir', tmp_path/'run')
    assert_one_line_error(*res, str(bad), '--skip-bad-images')
    assert not (tmp_path/'run').exists()


@pytest.mark.slow
def test_skip_bad_images_skips_and_counts(vcls, folder, tmp_path):
    bad = [make(folder/'train'/'bee'/f'{kind}.png') for kind, make in BAD_FILES.items()]
    code, out, err = vcls('train', *TINY, '--data-path', folder, '--output-dir', tmp_path/'run', '--skip-bad-images')
    assert code == 0, err
    import json
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert m['skipped_images'] == len(bad) and m['n_train'] == 12
    assert sorted((tmp_path/'run'/'skipped_images.txt').read_text().split()) == sorted(map(str, bad))
    code, out, err = vcls('data', 'check', '--data-path', folder, '--skip-bad-images')
    assert code == 0 and f'{len(bad)} skipped' in out


def test_unknown_model_suggests_names(vcls, tmp_path):
    res = vcls('train', '--model', 'resnet19', '--output-dir', tmp_path/'run')
    assert_one_line_error(*res, "unknown model 'resnet19'", 'did you mean resnet18', 'vcls models')
    assert_one_line_error(*vcls('train', '--model', 'mobilenetv2', '--dry-run'), 'mobilenet_v2')


@pytest.mark.parametrize('flags, needle', [
    (['--lr', '0'], '--lr must be positive'), (['--lr', '-0.1'], '--lr must be positive'),
    (['--epochs', '0'], '--epochs must be positive'), (['--epochs', '-3'], '--epochs must be positive'),
    (['-b', '0'], '--batch-size must be positive'), (['--batch_size', '-8'], '--batch-size must be positive'),
    (['--lr-step-size', '0'], 'lr-step-size must be a positive'), (['--lr-gamma', '-1'], 'lr-gamma must be positive'),
    (['--epochs', 'ten'], "invalid int value: 'ten'"), (['--lr', 'fast'], "invalid float value: 'fast'"),
    (['--strides', '1,2'], 'five values'), (['--dataset', 'imagenett'], 'unknown dataset'),
    (['--device', 'tpu'], 'unknown device'), (['--recipe', 'resnt'], 'did you mean resnet'),
])
def test_nonsense_values(vcls, tmp_path, flags, needle):
    res = vcls('train', *flags, '--output-dir', tmp_path/'run')
    assert_one_line_error(*res, needle)
    assert not (tmp_path/'run').exists()


@pytest.mark.slow
def test_existing_run_is_never_overwritten(vcls, tiny_data, tiny_run):
    before = snapshot(tiny_run)   # the shared TINY run on tiny_data: the same command again must be refused
    assert_one_line_error(*vcls('train', *TINY, '--data-path', tiny_data, '--output-dir', tiny_run),
                          'already holds a run', '--resume', 'new --output-dir')
    assert snapshot(tiny_run) == before


def test_bad_checkpoints(vcls, tmp_path):
    assert_one_line_error(*vcls('train', '--resume', tmp_path/'missing.pth'), 'not found')
    (tmp_path/'junk.pth').write_bytes(b'junk')
    assert_one_line_error(*vcls('eval', tmp_path/'junk.pth'), 'cannot be read as a checkpoint')
    import torch
    torch.save({'model': {}}, tmp_path/'other.pth')
    assert_one_line_error(*vcls('eval', tmp_path/'other.pth'), 'not a vcls_lite checkpoint')
    assert_one_line_error(*vcls('train', '--test-only'), '--test-only evaluates a checkpoint; pass --resume')


def test_real_console_script_exit_code(tmp_path):
    "The installed entry point, in a new process, behaves the same."
    import subprocess, sys
    p = subprocess.run([sys.executable, '-m', 'vcls_lite.cli', 'train', '--lr', '0', '--dry-run'], capture_output=True, text=True)
    assert_one_line_error(p.returncode, p.stdout, p.stderr, '--lr must be positive')


class _Crafted:
    "Unpickled, it would run `touch marker`."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))


@pytest.mark.parametrize('name', ['data_batch_1', 'test_batch', 'batches.meta'])
def test_crafted_cifar_pickle_does_not_run(vcls, tmp_path, name):
    "A CIFAR file that carries code is refused by name, on every command that reads it, and its code never runs."
    import pickle
    from vcls_lite.sources import write_cifar10
    folder, marker = write_cifar10(tmp_path/'cifar', n_train=10, n_test=5), tmp_path/'ran'
    (folder/name).write_bytes(pickle.dumps({'data': _Crafted(marker), 'labels': [0], 'label_names': _Crafted(marker)}))
    assert_one_line_error(*vcls('data', 'check', '--data-path', tmp_path/'cifar'), name, 'asks to call')
    assert_one_line_error(*vcls('train', *TINY, '--data-path', tmp_path/'cifar', '--output-dir', tmp_path/'run'), name)
    assert not marker.exists() and not (tmp_path/'run').exists()
