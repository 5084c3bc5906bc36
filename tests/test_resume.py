"""Exact resume: runs killed with SIGKILL at random moments (some in the middle of a checkpoint write) or stopped with
Ctrl-C, then resumed, end with the same weights, bit for bit, as a run never interrupted."""
import os, queue, random, signal, subprocess, sys, threading, time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow   # trains, or starts processes: `make test` runs these, `make test-fast` does not

#: 6 epochs of 3 steps on the `folder` fixture, a text line per step
ARGS = ['--scale', 'smoke', '--crop', '32', '--resize', '36', '-b', '4', '--epochs', '6', '-p', '1', '--save-ckp', '--keep-ckp', '2']


def start(*args):
    "`python -m vcls_lite.cli *args` in a new process, its output lines arriving in a queue."
    p = subprocess.Popen([sys.executable, '-m', 'vcls_lite.cli', *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, bufsize=1)
    p.lines = queue.Queue()
    def pump():
        for line in p.stdout: p.lines.put(line)
    threading.Thread(target=pump, daemon=True).start()
    return p


def weights(run: Path) -> dict:
    return torch.load(run/'checkpoint.pth', weights_only=True)['model']


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    bad = [k for k in a if not torch.equal(a[k], b[k])]
    assert not bad, f"{len(bad)} tensors differ, e.g. {bad[:3]}"


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """The uninterrupted run, on its own copy of the data. In this process: a run here and one in a new process end
    with the same weights, bit for bit (the last test below resumes in this process and compares with it)."""
    from conftest import write_folder
    from vcls_lite.cli import capture
    root = tmp_path_factory.mktemp('ref')
    data = write_folder(root/'data')
    code, out, err = capture('train', *ARGS, '--data-path', data, '--output-dir', root/'run')
    assert code == 0, err
    return data, root/'run'


def wait_for_step(p, n: int, timeout=120) -> bool:
    "Wait until the process printed its `n`-th step line; False if it ended first."
    seen, end = 0, time.time() + timeout
    while time.time() < end:
        try: line = p.lines.get(timeout=0.05)
        except queue.Empty:
            if p.poll() is not None: return False
            continue
        if line.startswith('epoch ') and '[' in line: seen += 1
        if seen >= n: return True
    raise TimeoutError('no progress')


def wait_for_write(p, run: Path, timeout=120) -> bool:
    "Wait until a checkpoint is being written (its temporary file exists); False if the process ended first."
    end = time.time() + timeout
    while time.time() < end:
        if any(run.glob('.checkpoint.pth.tmp*')): return True
        if p.poll() is not None: return False
        time.sleep(0.0005)
    raise TimeoutError('no checkpoint write')


def test_sigkill_at_random_moments_then_resume_is_bit_exact(reference, tmp_path):
    data, ref = reference
    run, rng = tmp_path/'run', random.Random(6)
    plan = ['step', 'write', 'step']   # how each attempt is killed (the resume after a mid-write kill is killed again);
                                       # then one runs to the end
    kills, during_write = 0, 0
    for attempt in range(len(plan) + 1):
        args = ['train', *ARGS, '--data-path', data, '--output-dir', run] if attempt == 0 else ['train', '--resume', run]
        p = start(*args)
        if attempt < len(plan):
            hit = wait_for_step(p, rng.randint(1, 5)) if plan[attempt] == 'step' else wait_for_write(p, run)
            if hit:
                p.send_signal(signal.SIGKILL); p.wait()
                kills += 1
                if plan[attempt] == 'write':
                    during_write += 1
                    assert any(run.glob('.checkpoint.pth.tmp*'))   # killed mid-write: a partial temporary file is left
                continue
        assert p.wait(timeout=300) == 0, ''.join(p.lines.queue)
        break
    assert kills >= 2 and during_write >= 1, (kills, during_write)
    assert not any(run.glob('.*.tmp*'))          # the resumes cleaned up the partial writes
    assert_same_weights(weights(run), weights(ref))
    assert [l.split(',')[:5] for l in (run/'log.csv').read_text().splitlines()] == \
           [l.split(',')[:5] for l in (ref/'log.csv').read_text().splitlines()]   # one row per epoch, same numbers
    assert sorted(f.name for f in run.glob('checkpoint_*.pth')) == ['checkpoint_004.pth', 'checkpoint_005.pth']


def test_ctrl_c_saves_mid_epoch_and_resume_is_bit_exact(reference, tmp_path):
    data, ref = reference
    run = tmp_path/'run'
    p = start('train', *ARGS, '--data-path', data, '--output-dir', run)
    assert wait_for_step(p, 5)                        # epoch 1, its 2nd step
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=120) == 130
    out = ''.join(p.lines.queue)
    assert 'Traceback' not in out and f'continue with --resume {run}' in out, out
    ck = torch.load(run/'checkpoint.pth', weights_only=True)
    assert ck['iter'] is not None and 0 < ck['iter'] <= 3, ck['iter']   # mid-epoch (or at its last step)
    import json
    assert json.loads((run/'metrics.json').read_text())['status'] == 'interrupted'
    p = start('train', '--resume', run)
    assert p.wait(timeout=300) == 0, ''.join(p.lines.queue)
    assert_same_weights(weights(run), weights(ref))


def test_resume_folder_of_a_run_killed_in_its_first_epoch_starts_again(reference, tmp_path, vcls):
    "A folder with a config but no checkpoint yet: `--resume` trains it from the start, with the same result."
    data, ref = reference
    run = tmp_path/'run'
    p = start('train', *ARGS, '--data-path', data, '--output-dir', run)
    assert wait_for_step(p, 1)
    p.send_signal(signal.SIGKILL); p.wait()
    assert (run/'config.json').exists() and not (run/'checkpoint.pth').exists()
    code, out, err = vcls('train', *ARGS, '--data-path', data, '--output-dir', run)
    assert code == 2 and f'--resume {run} to continue it' in err, err   # a new run into it is refused
    code, out, err = vcls('train', '--resume', run)
    assert code == 0, err
    assert_same_weights(weights(run), weights(ref))
