"""`vcls bench` at toy sizes (the figures themselves are measured by the benchmarks, never asserted here), and the
image cache behind the fast data path: it notices changed files, agrees with reading the files, and survives a crash."""
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ok
from test_bad_input import assert_one_line_error, snapshot


#: a train-overhead run at toy size (the same command twice: the second must be refused)
OVERHEAD = ('bench', 'train-overhead', '--crop', '16', '-b', '4', '--steps', '2', '--rounds', '1')


@pytest.fixture(scope='module')
def overhead(tmp_path_factory):
    "One `vcls bench train-overhead --json` at toy size: (output folder, stdout)."
    from vcls_lite.cli import capture
    d = tmp_path_factory.mktemp('overhead')/'b'
    return d, ok(capture(*OVERHEAD, '--output-dir', d, '--json'))


@pytest.mark.slow
def test_train_overhead_json(overhead):
    d, out = overhead
    res = json.loads(out)
    assert res['bench'] == 'train-overhead' and res['target'] == 0.98 and isinstance(res['met'], bool)
    assert math.isfinite(res['ratio']) and res['ratio'] > 0   # the figure itself is measured, never asserted
    assert [r['loop'] for r in res['rows']][0] == 'plain PyTorch loop' and res['machine']['cores'] >= 1
    assert sorted(p.name for p in d.iterdir()) == ['train-overhead.csv', 'train-overhead.json', 'train-overhead.png']


@pytest.mark.slow
def test_data_on_a_folder(vcls, folder, tmp_path):
    code, out, err = vcls('bench', 'data', '--data-path', folder, '--scale', 'smoke', '-b', '4', '--steps', '2',
                          '--rounds', '1', '--ref-workers', '0', '--output-dir', tmp_path/'b', '--json')
    assert code == 0, err
    res = json.loads(out)
    assert len(res['rows']) == 4   # with 0 reference workers the two reference rows are one
    assert res['ratio'] > 0 and all(r['peak_mb'] > 0 for r in res['rows'])


@pytest.mark.slow
def test_infer_forms(vcls, tmp_path):
    code, out, err = vcls('bench', 'infer', '--crop', '32', '-b', '2', '--iters', '2', '--warmup-iters', '1', '--num-classes', '10',
                          '--forms', 'eager fp32 NCHW', 'TorchScript traced', 'ONNX Runtime fp32',
                          'ONNX Runtime int8 (vcls export)', '--output-dir', tmp_path/'b')
    assert code == 0, err
    assert 'ONNX Runtime fp32' in out and 'ONNX Runtime int8 (vcls export)' in out and 'error' not in out
    rows = list((tmp_path/'b'/'infer.csv').read_text().splitlines())
    assert len(rows) == 5 and rows[0].startswith('form,images_per_sec')


@pytest.mark.slow
def test_infer_from_checkpoint(vcls, tiny_run, tmp_path):
    code, out, err = vcls('bench', 'infer', '--checkpoint', tiny_run/'checkpoint.pth', '-b', '2', '--iters', '1',
                          '--forms', 'eager fp32 NCHW', '--json', '--output-dir', tmp_path/'b')
    assert code == 0, err
    res = json.loads(out)
    assert (res['model'], res['crop']) == ('resnet18', 32)


def test_engines(vcls, tmp_path):
    code, out, err = vcls('bench', 'engines', '--models', 'shufflenet_v2_x0_5', '--size', '32', '--rounds', '1',
                          '--iters', '1', '--json', '--output-dir', tmp_path/'b')
    assert code == 0, err
    res = json.loads(out)
    assert res['default'] == 'onednn' and {'onednn', 'x86'} <= {r['engine'] for r in res['rows']}
    assert (tmp_path/'b'/'engines.png').is_file()


@pytest.mark.parametrize('args, needle', [
    (('data', '--data-path', 'nowhere'), 'does not exist'),
    (('data', '--steps', '0'), '--steps must be at least 1'),
    (('data', '--recipe', 'torchvision/resnet19'), 'resnet19'),
    (('infer', '--checkpoint', 'nowhere/checkpoint.pth'), 'not found'),
    (('infer', '--model', 'resnet19'), 'unknown model'),
    (('infer', '--warmup-iters', '-1'), '--warmup-iters must be at least 0'),
    (('scaling', '--batch-sizes', '8', '0'), '--batch-sizes must be at least 1'),
    (('train-overhead', '-b', '0'), '--batch-size must be at least 1'),
    (('train-overhead', '--steps', '1'), '--steps must be at least 2'),
    (('engines', '--models', 'resnet19'), 'unknown model'),
    (('engines', '--size', '0'), '--size must be at least 1'),
    (('fixed-cost', '--reference', 'nowhere'), 'is not a folder; clone https://github.com/pytorch/vision'),
    (('fixed-cost', '--reference', 'nowhere', '--rounds', '0'), '--rounds must be at least 1'),
])
def test_bad_input(vcls, tmp_path, args, needle):
    assert_one_line_error(*vcls('bench', *args, '--output-dir', tmp_path/'b'), needle)


@pytest.mark.slow
def test_never_overwrites(vcls, overhead):
    d = overhead[0]
    before = snapshot(d)
    assert_one_line_error(*vcls(*OVERHEAD, '--output-dir', d), 'already holds train-overhead.json')
    assert snapshot(d) == before


#: a stand-in for torchvision's references/classification/train.py: its flags and the four functions the launcher
#: uses (`main` calls the other two through the module, as the real one does); its epochs sleep and it writes nothing
FAKE_TRAIN = """import argparse, time
def train_one_epoch(model, criterion, optimizer, data_loader, device, epoch, args, model_ema=None, scaler=None):
    time.sleep(0.02)
def evaluate(model, criterion, data_loader, device, print_freq=100, log_suffix=''):
    time.sleep(0.01)
def get_args_parser(add_help=True):
    p = argparse.ArgumentParser(description='PyTorch Classification Training', add_help=add_help)
    for f in ('--data-path', '--model', '--device', '--output-dir'): p.add_argument(f)
    p.add_argument('-b', '--batch-size', type=int); p.add_argument('-j', '--workers', type=int)
    for f in ('--epochs', '--train-crop-size', '--val-resize-size', '--val-crop-size', '--print-freq'):
        p.add_argument(f, type=int)
    p.add_argument('--lr', type=float)
    return p
def main(args):
    for epoch in range(args.epochs):
        train_one_epoch(None, None, None, None, args.device, epoch, args)
        evaluate(None, None, None, device=args.device)
"""


@pytest.mark.slow
def test_fixed_cost_against_a_fake_reference(vcls, tmp_path):
    "End to end, one round of one epoch: the fake reference, and one real `vcls train` (after its untimed warm-up)."
    ref = tmp_path/'classification'
    ref.mkdir(); (ref/'train.py').write_text(FAKE_TRAIN)
    code, out, err = vcls('bench', 'fixed-cost', '--reference', ref, '--rounds', '1', '--epochs', '1',
                          '--output-dir', tmp_path/'b', '--json')
    assert code == 0, err
    res = json.loads(out)
    assert res['bench'] == 'fixed-cost' and res['target'] == 1.0 and isinstance(res['met'], bool)
    assert (res['epochs'], res['rounds'], res['threads'], res['machine']['threads']) == (1, 1, 1, 1)
    assert [r['tool'] for r in res['rows']] == ["torchvision's reference train.py", 'vcls train']
    for r in res['rows']:   # measured figures: present, positive and finite; how the two tools compare is measured
        assert r['runs'] == 1 and r['note']
        for k in ('wall_s', 'epochs_s', 'outside_s', 'outside_ratio', 'wall_ratio'):
            assert isinstance(r[k], float) and math.isfinite(r[k]) and r[k] > 0, (k, r)
    assert res['rows'][0]['outside_ratio'] == 1.0 and res['ratio'] == res['rows'][1]['outside_ratio']
    assert [(x['round'], x['built_cache']) for x in res['runs'] if x['tool'] == 'vcls train'] == [(1, False)]
    assert sorted(p.name for p in (tmp_path/'b').iterdir()) == ['fixed-cost.csv', 'fixed-cost.json', 'fixed-cost.png']
    assert (tmp_path/'b'/'fixed-cost.csv').read_text().splitlines()[0].startswith('tool,runs,wall_s,epochs_s,outside_s')
    assert {p.name for p in ref.iterdir()} <= {'__pycache__', 'train.py'}   # nothing written beside it but bytecode


def test_fixed_cost_without_train_py(vcls, tmp_path):
    (tmp_path/'vision').mkdir()
    assert_one_line_error(*vcls('bench', 'fixed-cost', '--reference', tmp_path/'vision', '--output-dir', tmp_path/'b'),
                          'has no train.py', 'clone https://github.com/pytorch/vision and pass its references/classification')
    assert not (tmp_path/'b').exists()


def test_data_with_too_few_images(vcls, folder, tmp_path):
    assert_one_line_error(*vcls('bench', 'data', '--data-path', folder, '-b', '64', '--output-dir', tmp_path/'b'),
                          'fewer than one batch of 64')


# --- the image cache ---

def test_cache_notices_a_changed_file(folder, tmp_path):
    from vcls_lite.data import get_dls
    kw = dict(crop=32, resize=40, bs=4)
    cache = Path(os.environ['VCLS_CACHE'])/'images'
    before = set(cache.glob('*.npy')) if cache.exists() else set()
    dls = get_dls(folder, **kw)
    first = set(cache.glob('*.npy')) - before
    assert len(first) == 2   # train and validation
    f = dls.train.dataset   # replace one training image with a white one
    path = sorted((folder/'train'/'ant').iterdir())[0]
    Image.new('RGB', (40, 40), 'white').save(path)
    st = path.stat(); os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    dls2 = get_dls(folder, **kw)
    assert len(set(cache.glob('*.npy')) - before) == 3   # a new training cache; the validation one is reused
    ds = dls2.train.dataset
    assert (ds.images[ds.rows[0]] == 255).all() and not (f.images[f.rows[0]] == 255).all()


def test_cache_agrees_with_the_files(folder):
    from vcls_lite.data import get_dls
    kw = dict(crop=32, resize=36, bs=4)
    a = get_dls(folder, cache=True, **kw).valid.one_batch()
    b = get_dls(folder, cache=False, **kw).valid.one_batch()
    assert torch.equal(a[1], b[1])
    assert (a[0] - b[0]).abs().max() < 0.05   # the file path rounds its resized pixels to uint8, the cache does not


def test_cache_build_crash_leaves_nothing(folder, monkeypatch, tmp_path):
    import vcls_lite.cache as data
    calls = []
    def boom(out, i, f, fit):
        calls.append(i)
        if len(calls) > 3: raise KeyboardInterrupt
        return None
    monkeypatch.setattr(data, '_decode_into', boom)
    files = sorted((folder/'train').rglob('*.png'))
    with pytest.raises(KeyboardInterrupt): data.image_cache(files, 40, folder=tmp_path/'c')
    assert list((tmp_path/'c').iterdir()) == []
    monkeypatch.undo()
    images, rows, bad = data.image_cache(files, 40, folder=tmp_path/'c')
    assert images.shape == (12, 3, 40, 40) and len(rows) == 12 and not bad


@pytest.mark.slow
def test_no_cache_flag(vcls, folder, tmp_path):
    from conftest import TINY
    code, out, err = vcls('train', *TINY, '--data-path', folder, '--no-cache', '--output-dir', tmp_path/'run')
    assert code == 0, err
    cfg = json.loads((tmp_path/'run'/'config.json').read_text())
    assert cfg['run']['cache'] is False and cfg['data']['cache'] is None


@pytest.mark.slow
def test_scaling_points_in_fresh_processes(vcls, tmp_path):
    code, out, err = vcls('bench', 'scaling', '--batch-sizes', '2', '--crops', '16', '--crop', '16', '-b', '2', '--steps', '1',
                          '--output-dir', tmp_path/'b', '--json')
    assert code == 0, err
    rows = json.loads(out)['rows']
    assert [(r['sweep'], r['batch_size'], r['crop']) for r in rows] == [('batch size', 2, 16), ('crop', 2, 16)]
    for r in rows:   # measured figures: present, positive and finite; how they compare depends on the host
        for k in ('train_ips', 'train_ips_cl', 'infer_ips', 'infer_ips_cl', 'train_mb', 'train_mb_cl', 'infer_mb', 'infer_mb_cl',
                  'base_mb'):
            assert isinstance(r[k], float) and math.isfinite(r[k]) and r[k] > 0, (k, r)
    assert sorted(p.name for p in (tmp_path/'b').iterdir()) == ['scaling.csv', 'scaling.json', 'scaling.png']
