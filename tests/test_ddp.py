"""torchrun: two processes on this CPU (gloo over loopback) train what one process trains at the same global batch."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest
import torch

from conftest import write_folder

pytestmark = pytest.mark.slow   # trains, or starts processes: `make test` runs these, `make test-fast` does not

#: no random augmentation (each process would draw its own crops), 2 steps at global batch 16
ARGS = ['--scale', 'smoke', '--crop', '32', '--resize', '36', '--rand-scale', '1', '1', '--hflip', '0',
        '--lr', '0.01', '--epochs', '1', '--iters', '2', '-p', '1']


def torchrun(*args, nproc=2):
    exe = shutil.which('torchrun', path=os.path.dirname(sys.executable)) or 'torchrun'
    return subprocess.run([exe, '--standalone', f'--nproc_per_node={nproc}', '-m', 'vcls_lite.cli', *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def update_diff(a, b, init) -> float:
    "Relative difference of the two runs' weight updates (from the same initial weights)."
    ks = [k for k in a if a[k].is_floating_point() and 'running' not in k]
    num = sum(((a[k] - b[k]) ** 2).sum() for k in ks) ** .5
    den = sum(((a[k] - init[k]) ** 2).sum() for k in ks) ** .5
    return (num / den).item()


def test_two_processes_train_what_one_process_trains(tmp_path, vcls):
    data = write_folder(tmp_path/'data', n_train=48, n_valid=12)
    code, out, err = vcls('train', *ARGS, '-b', '16', '--data-path', data, '--output-dir', tmp_path/'one')
    assert code == 0, err
    p = torchrun('train', *ARGS, '-b', '8', '--sync-bn', '--data-path', data, '--output-dir', tmp_path/'two')
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count('run folder:') == 1           # rank 0 reports; the other rank prints nothing
    one = torch.load(tmp_path/'one'/'checkpoint.pth', weights_only=True)
    two = torch.load(tmp_path/'two'/'checkpoint.pth', weights_only=True)
    assert list(one['model']) == list(two['model'])     # no `module.` prefix: the bare model is saved
    code, out, err = vcls('train', *ARGS, '-b', '16', '--lr', '1e-12', '--data-path', data, '--output-dir', tmp_path/'init')
    init = torch.load(tmp_path/'init'/'checkpoint.pth', weights_only=True)['model']   # the same start, moved by 1e-12
    assert update_diff(one['model'], two['model'], init) < 1e-2   # measured 1e-3; float summation order only
    m1, m2 = (json.loads((tmp_path/r/'metrics.json').read_text()) for r in ('one', 'two'))
    assert (m2['world_size'], m2['global_batch'], m2['n_valid']) == (2, 16, m1['n_valid'])
    # the two processes' metrics are those of the whole validation set: one process evaluating the same weights gets
    # them (top-1 of the two runs can differ: 12 images and an untrained model's near-tied logits; seen on AVX512+VNNI)
    code, out, err = vcls('eval', tmp_path/'two'/'checkpoint.pth', '--data-path', data, '--json')
    assert code == 0, err
    assert json.loads(out)['top1'] == pytest.approx(m2['top1'], abs=1e-6), (out, m2['top1'])
    assert m1['valid_loss'] == pytest.approx(m2['valid_loss'], rel=1e-3)
    assert m1['train_loss'] == pytest.approx(m2['train_loss'], rel=1e-3)
    assert sorted(f.name for f in (tmp_path/'two').iterdir()) == sorted(f.name for f in (tmp_path/'one').iterdir())


def test_errors_under_torchrun_are_one_line_per_process(tmp_path):
    p = torchrun('train', *ARGS, '--data-path', tmp_path/'nowhere')
    assert p.returncode != 0
    lines = [l for l in p.stderr.splitlines() if l.startswith('vcls: error:')]
    assert len(lines) == 2 and 'nowhere does not exist' in lines[0], p.stderr
    assert 'Traceback' not in p.stdout
