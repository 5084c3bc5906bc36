"""The bad-input table: every row is one bad input to `train`, `eval`, `quantize` or `bench`. Each must give one line
on stderr naming the problem and the fix, exit code 2, no traceback, and leave every existing file as it was."""
import errno, os, shutil, signal
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from conftest import TINY, copy_run, write_folder
from test_bad_input import assert_one_line_error, snapshot

pytestmark = pytest.mark.slow   # trains, or starts processes: `make test` runs these, `make test-fast` does not


class Evil:
    "Unpickling this runs a shell command; `weights_only` loading must refuse it."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))


@pytest.fixture(scope='module')
def env(tiny_data, tiny_run, tmp_path_factory):
    "One finished tiny run and the bad files made from it (read-only for the table: each row checks nothing changed)."
    base = tmp_path_factory.mktemp('bad')
    data = shutil.copytree(tiny_data, base/'data')   # copies of the shared TINY run and its data, so that every
    copy_run(tiny_run, base/'run')                   # row's "nothing changed" check covers them with the bad files
    ckpt = base/'run'/'checkpoint.pth'
    raw = ckpt.read_bytes()
    (base/'truncated.pth').write_bytes(raw[:len(raw) // 3])
    (base/'empty.pth').write_bytes(b'')
    torch.save({'format': 'vcls_lite/1', 'payload': Evil(base/'PWNED')}, base/'evil.pth')
    ck = torch.load(ckpt, weights_only=True)
    ck['config']['recipe']['model'] = 'mobilenet_v2'            # a resnet18's weights labelled as another model
    torch.save(ck, base/'mislabelled.pth')
    data4 = write_folder(base/'data4')                          # the same images with a fourth class
    for split in ('train', 'validation'):
        shutil.copytree(data4/split/'cat', data4/split/'dog')
    (base/'a_file').write_text('not a folder')
    (base/'int8_done').mkdir(); (base/'int8_done'/'int8_model.pt').write_bytes(b'an earlier int8 model')
    (base/'bench_done').mkdir(); (base/'bench_done'/'train-overhead.json').write_text('{}')
    (base/'empty_dir').mkdir()
    return SimpleNamespace(base=base, data=data, data4=data4, ckpt=ckpt, run=base/'run')


def _layout(fn):
    "A row that needs its own damaged copy of the data: `fn(copy)` damages it."
    def make(e, tmp):
        d = shutil.copytree(e.data, tmp/'data_copy')
        fn(d)
        return d
    return make


def _corrupt(d): (d/'train'/'bee'/'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n' + os.urandom(200))
def _no_train(d): (d/'train').rename(d/'training')
def _classes_differ(d): (d/'validation'/'cat').rename(d/'validation'/'cow')
def _empty_class(d): (d/'train'/'dog').mkdir(); (d/'validation'/'dog').mkdir()
def _unreadable(d): (d/'train'/'ant'/'gone.png').symlink_to(d/'no_such_file.png')   # unreadable, even for root


def _full_disk(monkeypatch, at:int=2):
    "Checkpoint write number `at` finds the disk full after writing part of the file."
    calls, real = [], torch.save
    def save(obj, f, *a, **k):
        calls.append(f)
        if len(calls) < at: return real(obj, f, *a, **k)
        Path(f).write_bytes(b'partial'); raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(torch, 'save', save)


T = lambda *a: ['train', *TINY, *a]
#: (id, command builder `(env, tmp) -> args`, words the message must hold, optional patch)
ROWS = [
    ('train-missing-data', lambda e, t: T('--data-path', t/'nowhere', '--output-dir', t/'r'), ['does not exist', '--data-path']),
    ('train-data-is-a-file', lambda e, t: T('--data-path', e.base/'a_file'), ['is a file, not a folder']),
    ('train-no-train-folder', lambda e, t: T('--data-path', _layout(_no_train)(e, t)), ['has no train/ folder']),
    ('train-classes-differ', lambda e, t: T('--data-path', _layout(_classes_differ)(e, t)), ["only in train: ['cat']"]),
    ('train-empty-class', lambda e, t: T('--data-path', _layout(_empty_class)(e, t)), ['dog is empty']),
    ('train-corrupt-image', lambda e, t: T('--data-path', _layout(_corrupt)(e, t), '--output-dir', t/'r'), ['broken.png', '--skip-bad-images']),
    ('train-unreadable-image', lambda e, t: T('--data-path', _layout(_unreadable)(e, t), '--output-dir', t/'r'), ['gone.png', '--skip-bad-images']),
    ('train-negative-lr', lambda e, t: T('--lr', '-0.1', '--output-dir', t/'r'), ['--lr must be positive']),
    ('train-absurd-crop', lambda e, t: T('--crop', '100000', '--output-dir', t/'r'), ['--crop 100000 is absurd']),
    ('train-absurd-lr', lambda e, t: T('--lr', '1e6', '--output-dir', t/'r'), ['is absurd']),
    ('train-zero-batch', lambda e, t: T('-b', '0', '--output-dir', t/'r'), ['--batch-size must be positive']),
    ('train-threshold-over-100', lambda e, t: T('--quality-threshold', '150', '--output-dir', t/'r'), ['--quality-threshold']),
    ('train-evaluate-every-0', lambda e, t: T('--evaluate-every', '0', '--output-dir', t/'r'), ['--evaluate-every must be at least 1']),
    ('train-keep-ckp-negative', lambda e, t: T('--keep-ckp', '-1', '--output-dir', t/'r'), ['--keep-ckp must be at least 0']),
    ('train-same-output-dir', lambda e, t: T('--data-path', e.data, '--output-dir', e.run), ['already holds a run', '--resume']),
    ('train-output-dir-is-a-file', lambda e, t: T('--data-path', e.data, '--output-dir', e.base/'a_file'), ['is a file']),
    ('train-resume-truncated', lambda e, t: ['train', '--resume', e.base/'truncated.pth'], ['cannot be read as a checkpoint']),
    ('train-resume-empty-file', lambda e, t: ['train', '--resume', e.base/'empty.pth'], ['cannot be read as a checkpoint']),
    ('train-resume-pickle-runs-code', lambda e, t: ['train', '--resume', e.base/'evil.pth'], ['cannot be read as a checkpoint']),
    ('train-resume-folder-without-run', lambda e, t: ['train', '--resume', e.base/'empty_dir'], ['holds no vcls run']),
    ('train-weights-other-model', lambda e, t: T('--data-path', e.data, '--model', 'mobilenet_v2', '--weights', e.ckpt, '--output-dir', t/'r'),
     ['do not fit this model', 'same model']),
    ('train-weights-other-model', lambda e, t: T('--data-path', e.data, '--model', 'resnet34', '--weights', e.ckpt, '--output-dir', t/'r'),
     ['do not fit this model']),
    ('train-full-disk', lambda e, t: [*T('--data-path', e.data, '--output-dir', t/'r'), '--epochs', '2'],
     ['the disk is full', 'previous checkpoint is kept', '--resume'], _full_disk),
    ('train-full-disk-first-save', lambda e, t: [*T('--data-path', e.data, '--output-dir', t/'r'), '--epochs', '2'],
     ['the disk is full', 'no checkpoint is saved yet', 'start the run again'], lambda mp: _full_disk(mp, 1)),
    ('eval-missing-checkpoint', lambda e, t: ['eval', t/'none.pth'], ['not found']),
    ('eval-truncated', lambda e, t: ['eval', e.base/'truncated.pth'], ['cannot be read as a checkpoint']),
    ('eval-pickle-runs-code', lambda e, t: ['eval', e.base/'evil.pth'], ['cannot be read as a checkpoint', 'posix.system']),
    ('eval-mislabelled-model', lambda e, t: ['eval', e.base/'mislabelled.pth'], ['(a mobilenet_v2, 3 classes) do not fit this model', 'mixed up']),
    ('eval-other-classes', lambda e, t: ['eval', e.ckpt, '--data-path', e.data4], ['classes', 'differ']),
    ('eval-int8-missing', lambda e, t: ['eval', '--int8', t/'none.pt'], ['not found', 'vcls quantize']),
    ('eval-int8-not-a-model', lambda e, t: ['eval', '--int8', e.base/'int8_done'/'int8_model.pt'], ['not an int8 model']),
    ('quantize-truncated', lambda e, t: ['quantize', '--checkpoint', e.base/'truncated.pth'], ['cannot be read as a checkpoint']),
    ('quantize-pickle-runs-code', lambda e, t: ['quantize', '--checkpoint', e.base/'evil.pth'], ['cannot be read as a checkpoint']),
    ('quantize-model-mismatch', lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--model', 'resnet50'], ['does not match']),
    ('quantize-unknown-backend', lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--backend', 'tensorrt'], ["'tensorrt' is not supported"]),
    ('quantize-zero-calibration', lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--calib-batches', '0'], ['at least 1']),
    ('quantize-output-holds-int8', lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--output-dir', e.base/'int8_done'], ['already holds an int8 model']),
    ('bench-infer-truncated', lambda e, t: ['bench', 'infer', '--checkpoint', e.base/'truncated.pth', '--output-dir', t/'b'], ['cannot be read']),
    ('bench-infer-pickle-runs-code', lambda e, t: ['bench', 'infer', '--checkpoint', e.base/'evil.pth', '--output-dir', t/'b'], ['cannot be read']),
    ('bench-infer-mislabelled', lambda e, t: ['bench', 'infer', '--checkpoint', e.base/'mislabelled.pth', '--output-dir', t/'b'], ['do not fit']),
    ('bench-unknown-model', lambda e, t: ['bench', 'train-overhead', '--model', 'resnet19', '--output-dir', t/'b'], ['did you mean resnet18']),
    ('bench-zero-steps', lambda e, t: ['bench', 'train-overhead', '--steps', '0', '--output-dir', t/'b'], ['--steps must be at least']),
    ('bench-data-missing', lambda e, t: ['bench', 'data', '--data-path', t/'nowhere', '--output-dir', t/'b'], ['does not exist']),
    ('bench-output-holds-result', lambda e, t: ['bench', 'train-overhead', '--output-dir', e.base/'bench_done'], ['already holds train-overhead.json']),
]


def test_the_table_is_large_and_covers_every_command():
    assert len(ROWS) >= 25
    assert {r[1](SimpleNamespace(base=Path('b'), data=Path('d'), data4=Path('d4'), ckpt=Path('c'), run=Path('r')), Path('t'))[0]
            for r in ROWS if not r[0].startswith(('train-no', 'train-classes', 'train-empty-class', 'train-corrupt', 'train-unread'))} \
        == {'train', 'eval', 'quantize', 'bench'}


@pytest.mark.parametrize('row', ROWS, ids=[r[0] for r in ROWS])
def test_bad_input(row, env, tmp_path, vcls, monkeypatch):
    name, make, needles, *patch = row
    before = snapshot(env.base)
    args = make(env, tmp_path)
    if patch: patch[0](monkeypatch)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert_one_line_error(*vcls(*args), *needles)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers   # Ctrl-C works again
    assert snapshot(env.base) == before                  # nothing existing changed, nothing added beside it
    assert not (env.base/'PWNED').exists()               # the pickled command never ran
    if name == 'train-full-disk':                        # the first epoch's checkpoint survived the failed second write
        ck = torch.load(tmp_path/'r'/'checkpoint.pth', weights_only=True)
        assert ck['epoch'] == 0 and not list((tmp_path/'r').glob('.*.tmp*'))
