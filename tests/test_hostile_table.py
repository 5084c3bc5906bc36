"""The hostile-input table (issue 19), beside `test_bad_table.py` and with its rules: every row is one bad input that
must give one line on stderr naming the problem and the fix, exit code 2, no traceback, nothing run from a data file,
and every existing file left as it was. Its classes: data files that carry code, outputs that cannot be written,
training that goes non-finite, numbers and combinations that make no sense, and messages that must stay one line.
The behaviours that are not errors (images converted, a resume that changes a setting, Ctrl-C) are tested below it."""
import errno, json, os, pickle, shutil, tempfile, warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY, copy_run, ok
from test_bad_input import assert_one_line_error, snapshot
from test_bad_table import env, _layout, _unreadable   # noqa: F401  (the shared module fixture: a finished tiny run, its data)

pytestmark = pytest.mark.slow


class Evil:
    "Unpickling this creates the marker file: the proof that a data file ran code."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {self.marker}',))


def _cifar(e, t, member='data_batch_1'):
    "A CIFAR-10 folder in the real format whose `member` is a pickle that runs code."
    from vcls_lite.sources import write_cifar10
    root = write_cifar10(t/'cifar', n_train=20, n_test=10)
    (root/member).write_bytes(pickle.dumps({'data': Evil(e.base/'PWNED'), 'labels': [0]}))
    return t/'cifar'


def _read_only(monkeypatch):
    "The filesystem answers every new folder with EROFS, as a read-only mount does (root writes through chmod)."
    real = tempfile.mkdtemp
    def mkdtemp(*a, **k):
        if str(k.get('prefix', '')).startswith('.vcls-probe-'): raise OSError(errno.EROFS, 'Read-only file system')
        return real(*a, **k)
    monkeypatch.setattr(tempfile, 'mkdtemp', mkdtemp)


def _nan_loss(monkeypatch, after:int=4):
    "The training loss turns NaN from training step `after` on (epoch 1 of a TINY run, whose epochs have 3 steps)."
    from vcls_lite import learner
    real, n = learner.CrossEntropy.__call__, [0]
    def call(self, out, *y, **kw):
        loss = real(self, out, *y, **kw)
        if torch.is_grad_enabled(): n[0] += 1
        return loss * float('nan') if torch.is_grad_enabled() and n[0] > after else loss
    monkeypatch.setattr(learner.CrossEntropy, '__call__', call)


def _warns(monkeypatch):
    "A library call on the way warns (as torch and PIL do), before the command fails."
    from vcls_lite import sources
    real = sources.detect_source
    def detect(*a, **k):
        warnings.warn('something deprecated happened', UserWarning)
        return real(*a, **k)
    monkeypatch.setattr(sources, 'detect_source', detect)
    import vcls_lite.data
    monkeypatch.setattr(vcls_lite.data, 'detect_source', detect)


def _one_class(d): shutil.rmtree(d/'train'/'bee'); shutil.rmtree(d/'train'/'cat'); shutil.rmtree(d/'validation'/'bee'); \
    shutil.rmtree(d/'validation'/'cat')
def _self_loop(d): (d/'train'/'ant'/'loop').symlink_to('.')   # a folder that holds itself


def _image(name, array):
    "A layout change: `array` saved as `name` into the class folder ant (PIL picks the mode from the dtype)."
    return lambda d: Image.fromarray(array).save(d/'train'/'ant'/name)


def _int8(e, t):
    "A TorchScript file, as `vcls quantize` writes one."
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), t/'int8_model.pt')
    return t/'int8_model.pt'


T = lambda *a: ['train', *TINY, *a]
D = lambda e, t, *a: T('--data-path', e.data, '--output-dir', t/'r', *a)
#: (id, class, command builder `(env, tmp) -> args`, words the message must hold, optional patch)
ROWS = [
    # 1. data files are untrusted
    ('train-cifar-batch-runs-code', 1, lambda e, t: T('--data-path', _cifar(e, t), '--dataset', 'cifar10', '--output-dir', t/'r'),
     ['data_batch_1 was not read', 'posix.system']),
    ('check-cifar-test-batch-runs-code', 1, lambda e, t: ['data', 'check', '--data-path', _cifar(e, t, 'test_batch'), '--dataset', 'cifar10'],
     ['test_batch was not read']),
    ('check-cifar-meta-runs-code', 1, lambda e, t: ['data', 'check', '--data-path', _cifar(e, t, 'batches.meta'), '--dataset', 'cifar10'],
     ['batches.meta was not read']),
    ('eval-int8-pt-not-from-vcls', 1, lambda e, t: ['eval', '--int8', _int8(e, t)], ['not an int8 model']),
    # 2. outputs are checked before any work
    ('train-output-parent-is-a-file', 2, lambda e, t: T('--data-path', e.data, '--output-dir', e.base/'a_file'/'run'),
     ['cannot be created', 'a_file is a file, not a folder']),
    ('train-output-on-proc', 2, lambda e, t: T('--data-path', e.data, '--output-dir', '/proc/vcls_run'), ['(proc)', 'not a disk']),
    ('train-output-on-sys', 2, lambda e, t: T('--data-path', e.data, '--output-dir', '/sys/vcls_run'), ['(sysfs)']),
    ('train-output-inside-dataset', 2, lambda e, t: T('--data-path', e.data, '--output-dir', e.data/'train'/'ant'/'run'),
     ['lies inside the dataset', 'outside it']),
    ('train-output-read-only', 2, lambda e, t: D(e, t), ['read-only filesystem'], _read_only),
    ('train-resume-read-only', 2, lambda e, t: ['train', '--resume', e.run], ['read-only filesystem'], _read_only),
    ('quantize-output-is-a-file', 2, lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--output-dir', e.base/'a_file'],
     ['a_file is a file; choose a folder name']),
    ('quantize-output-parent-is-a-file', 2, lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--output-dir', e.base/'a_file'/'q'],
     ['is a file, not a folder']),
    ('quantize-output-read-only', 2, lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--output-dir', t/'q'], ['read-only'], _read_only),
    ('quantize-output-inside-dataset', 2, lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--data-path', e.data,
                                                        '--output-dir', e.data/'train'/'q'], ['lies inside the dataset']),
    ('bench-output-is-a-file', 2, lambda e, t: ['bench', 'train-overhead', '--output-dir', e.base/'a_file'], ['is a file']),
    ('bench-output-on-proc', 2, lambda e, t: ['bench', 'infer', '--output-dir', '/proc/vcls_bench'], ['(proc)']),
    ('bench-data-output-inside-dataset', 2, lambda e, t: ['bench', 'data', '--data-path', e.data, '--output-dir', e.data/'b'],
     ['lies inside the dataset']),
    ('zoo-output-parent-is-a-file', 2, lambda e, t: ['zoo', '--scale', 'smoke', '--models', 'resnet18', '--output-dir',
                                                     e.base/'a_file'/'zoo'], ['is a file, not a folder']),
    ('zoo-output-inside-dataset', 2, lambda e, t: ['zoo', '--scale', 'smoke', '--data-path', e.data, '--output-dir',
                                                   e.data/'train'/'zoo'], ['lies inside the dataset']),
    ('data-sample-dest-in-a-file', 2, lambda e, t: ['data', 'sample', '--dest', e.base/'a_file'/'sample'], ['--dest', 'is a file']),
    # 3. images beyond 8-bit RGB: converted (tested below) or, where no mapping to 8 bits is right, refused by name
    ('train-float-image-out-of-range', 3, lambda e, t: T('--data-path', _layout(_image('hdr.tif', np.full((8, 8), 900., np.float32)))(e, t),
                                                         '--output-dir', t/'r'), ['hdr.tif', 'float values from 900 to 900', '--skip-bad-images']),
    ('train-float-image-nan', 3, lambda e, t: T('--data-path', _layout(_image('nan.tif', np.full((8, 8), np.nan, np.float32)))(e, t),
                                                '--output-dir', t/'r'), ['nan.tif', 'NaN or infinite values']),
    ('check-signed-int-image', 3, lambda e, t: ['data', 'check', '--data-path',
                                                _layout(_image('neg.tif', np.full((8, 8), -5, np.int32)))(e, t)],
     ['neg.tif', 'signed values down to -5']),
    ('check-dangling-symlink-image', 3, lambda e, t: ['data', 'check', '--data-path', _layout(_unreadable)(e, t)],
     ['gone.png', 'a symbolic link to nothing']),
    # 4. training that goes non-finite stops clearly; non-finite and absurd numbers are refused up front
    ('train-loss-goes-nan', 4, lambda e, t: D(e, t, '--epochs', '3'),
     ['the training loss became NaN at epoch 1, step 1', 'checkpoint of epoch 0 is kept', 'lower --lr'], _nan_loss),
    ('train-loss-nan-first-epoch', 4, lambda e, t: D(e, t, '--epochs', '3'),
     ['at epoch 0, step 1', 'no checkpoint was written'], lambda mp: _nan_loss(mp, 1)),
    ('train-wd-inf', 4, lambda e, t: D(e, t, '--wd', 'inf'), ['--weight-decay must be a finite number, got inf']),
    ('train-wd-nan', 4, lambda e, t: D(e, t, '--weight-decay', 'nan'), ['must be a finite number, got nan']),
    ('train-wd-absurd', 4, lambda e, t: D(e, t, '--wd', '50'), ['--weight-decay must be in [0, 1]']),
    ('train-momentum-one', 4, lambda e, t: D(e, t, '--momentum', '1'), ['--momentum must be in [0, 1)', 'diverges']),
    ('train-momentum-negative', 4, lambda e, t: D(e, t, '--momentum', '-0.5'), ['--momentum must be in [0, 1)']),
    ('train-momentum-inf', 4, lambda e, t: D(e, t, '--momentum', 'inf'), ['--momentum must be a finite number']),
    ('train-lr-nan', 4, lambda e, t: D(e, t, '--lr', 'nan'), ['--lr must be a finite number']),
    ('train-hflip-inf', 4, lambda e, t: D(e, t, '--hflip', 'inf'), ['--hflip must be a finite number']),
    ('train-mean-nan', 4, lambda e, t: D(e, t, '--mean', '0.5', 'nan', '0.5'), ['--mean must be a finite number']),
    ('train-rand-scale-nan', 4, lambda e, t: D(e, t, '--rand-scale', 'nan', '1'), ['--rand-scale must be a finite number']),
    ('train-lr-gamma-inf', 4, lambda e, t: D(e, t, '--lr-gamma', 'inf'), ['--lr-gamma must be a finite number']),
    ('train-warmup-decay-nan', 4, lambda e, t: D(e, t, '--lr-warmup-decay', 'nan'), ['must be a finite number']),
    ('train-threshold-nan', 4, lambda e, t: D(e, t, '--quality-threshold', 'nan'), ['--quality-threshold']),
    # 5. numbers and combinations that make no sense
    ('train-seed-too-large', 5, lambda e, t: D(e, t, '--seed', str(2**70)), ['--seed must be between 0 and 4294967295']),
    ('train-seed-negative', 5, lambda e, t: D(e, t, '--seed', '-3'), ['--seed must be between 0 and']),
    ('train-one-class', 5, lambda e, t: T('--data-path', _layout(_one_class)(e, t), '--output-dir', t/'r'),
     ['holds one class (ant)', 'at least two']),
    ('check-one-class', 5, lambda e, t: ['data', 'check', '--data-path', _layout(_one_class)(e, t)], ['holds one class']),
    ('train-fake-with-data-path', 5, lambda e, t: ['train', '--dataset', 'fake', '--data-path', e.data, '--output-dir', t/'r'],
     ['--dataset fake makes its own images', 'drop --data-path']),
    ('train-dummy-test-with-data-path', 5, lambda e, t: ['train', '--dummy-test', '--data-path', e.data, '--output-dir', t/'r'],
     ['makes its own images']),
    ('train-sample-with-data-path', 5, lambda e, t: ['train', '--dataset', 'sample', '--data-path', e.data, '--output-dir', t/'r'],
     ['--dataset sample makes']),
    ('train-resize-below-crop', 5, lambda e, t: D(e, t, '--resize', '20'), ['--resize 20 is smaller than --crop 32', '--resize 37']),
    ('train-resume-other-model', 5, lambda e, t: ['train', '--resume', e.run, '--model', 'resnet34'],
     ['--model resnet34 differs from the checkpoint', 'keeps its model']),
    ('train-resume-other-strides', 5, lambda e, t: ['train', '--resume', e.run, '--strides', '1,1,2,2,2'], ['--strides']),
    ('train-start-epoch-past-end', 5, lambda e, t: ['train', '--resume', e.run, '--start-epoch', '5'],
     ['--start-epoch 5 is past the end of the run, whose epochs are 0 to 0']),
    ('train-batch-of-one-with-batchnorm', 5, lambda e, t: D(e, t, '-b', '1'), ['--batch-size 1 is too small', 'BatchNorm']),
    ('train-epochs-absurd', 5, lambda e, t: D(e, t, '--epochs', '100000000'), ['--epochs 100000000 is absurd']),
    ('eval-batch-size-zero', 5, lambda e, t: ['eval', e.ckpt, '-b', '0'], ['--batch-size must be at least 1, got 0']),
    ('eval-batch-size-negative', 5, lambda e, t: ['eval', e.ckpt, '-b', '-3'], ['--batch-size must be at least 1']),
    ('eval-workers-negative', 5, lambda e, t: ['eval', e.ckpt, '--workers', '-1'], ['--workers must be at least 0']),
    ('quantize-speed-size-absurd', 5, lambda e, t: ['quantize', '--checkpoint', e.ckpt, '--speed-size', '100000'], ['is absurd']),
    ('train-start-epoch-negative', 5, lambda e, t: D(e, t, '--start-epoch', '-1'), ['--start-epoch must be at least 0']),
    # 6. messages stay one line and point at the fix
    ('eval-run-folder', 6, lambda e, t: ['eval', e.run], ['is a folder, not a checkpoint', 'pass its checkpoint:', 'checkpoint.pth']),
    ('eval-empty-folder', 6, lambda e, t: ['eval', e.base/'empty_dir'], ['is a folder, not a checkpoint']),
    ('train-weights-run-folder', 6, lambda e, t: D(e, t, '--weights', e.run), ['pass its checkpoint:']),
    ('quantize-run-folder', 6, lambda e, t: ['quantize', '--checkpoint', e.run], ['pass its checkpoint:']),
    ('eval-int8-model-as-checkpoint', 6, lambda e, t: ['eval', _int8(e, t)], ['int8 (TorchScript) model', 'vcls eval --int8']),
    ('quantize-int8-model-as-checkpoint', 6, lambda e, t: ['quantize', '--checkpoint', _int8(e, t)], ['--int8']),
    ('bench-infer-int8-as-checkpoint', 6, lambda e, t: ['bench', 'infer', '--checkpoint', _int8(e, t), '--output-dir', t/'b'],
     ['int8 (TorchScript) model']),
    ('train-symlink-loop', 6, lambda e, t: T('--data-path', _layout(_self_loop)(e, t), '--output-dir', t/'r'), ['loop/loop', '...']),
    ('train-warning-then-error', 6, lambda e, t: T('--data-path', t/'nowhere'), ['does not exist'], _warns),
]


def test_the_table_covers_every_class_and_command():
    assert len(ROWS) >= 50
    assert {r[1] for r in ROWS} == {1, 2, 3, 4, 5, 6}   # class 3's conversions are tested below the table
    fake = type('E', (), dict(base=Path('b'), data=Path('d'), ckpt=Path('c'), run=Path('r')))()
    cmds = {r[2](fake, Path('t'))[0] for r in ROWS if r[1] != 3 and 'cifar' not in r[0] and 'one-class' not in r[0]
            and 'loop' not in r[0] and 'int8' not in r[0]}
    assert cmds == {'train', 'eval', 'quantize', 'bench', 'zoo', 'data'}


@pytest.mark.parametrize('row', ROWS, ids=[r[0] for r in ROWS])
def test_hostile_input(row, env, tmp_path, vcls, monkeypatch):
    name, _, make, needles, *patch = row
    before = snapshot(env.base)
    args = make(env, tmp_path)
    if patch: patch[0](monkeypatch)
    code, out, err = vcls(*args)
    assert_one_line_error(code, out, err, *needles)
    assert len(err) < 400, err                            # a long path is shortened
    assert 'Warning' not in err, err
    assert snapshot(env.base) == before                  # nothing existing changed, nothing added beside it
    assert not (env.base/'PWNED').exists()               # the pickled command never ran
    assert not list(Path('/proc').glob('vcls_*'))
    if name == 'train-loss-goes-nan':                    # the last good checkpoint is kept, and the run says why it ended
        ck = torch.load(tmp_path/'r'/'checkpoint.pth', weights_only=True)
        assert ck['epoch'] == 0 and all(torch.isfinite(v).all() for v in ck['model'].values() if v.is_floating_point())
        assert json.loads((tmp_path/'r'/'metrics.json').read_text())['status'] == 'diverged'
    if name.startswith(('train-output', 'zoo-output', 'quantize-output')):
        assert not (tmp_path/'r').exists() and not (tmp_path/'q').exists()   # nothing half-written


# -- class 3: images beyond 8-bit RGB are converted faithfully -------------------------------------------------------

def _modes_folder(root:Path) -> Path:
    "Two classes whose images are a gradient (class `ramp`) or its mirror (`mirror`), stored in many modes."
    g = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    for split in ('train', 'validation'):
        for cls, a in (('ramp', g), ('mirror', g[:, ::-1])):
            d = root/split/cls; d.mkdir(parents=True)
            Image.fromarray(np.round(a * 65535).astype(np.uint16)).save(d/'g16.png')
            Image.fromarray(a.astype(np.float32)).save(d/'float.tif')
            Image.fromarray(np.round(a * 65535).astype(np.int32)).save(d/'i32.tif')
            rgb = Image.fromarray(np.round(a * 255).astype(np.uint8)).convert('RGB')
            rgb.convert('CMYK').save(d/'cmyk.jpg', quality=95)
            la = Image.merge('LA', [Image.fromarray(np.round(a * 255).astype(np.uint8)), Image.new('L', (32, 32), 255)])
            la.save(d/'la.png')
            ex = rgb.getexif(); ex[0x0112] = 3; rgb.rotate(180).save(d/'rotated.jpg', exif=ex, quality=95)  # upside down
            rgb.save(d/'anim.gif', save_all=True, append_images=[Image.new('RGB', (32, 32), 'red')])
    return root


def test_images_beyond_8_bit_are_converted_faithfully(tmp_path, vcls):
    from vcls_lite.images import load_rgb
    root = _modes_folder(tmp_path/'modes')
    want = np.round(np.linspace(0, 1, 32 * 32).reshape(32, 32) * 255)
    for f in sorted((root/'train'/'ramp').iterdir()):
        x = load_rgb(f).float().mean(0).numpy()
        assert np.abs(x - want).mean() < 3, (f.name, np.abs(x - want).mean())   # the gradient, not white or black
    out = ok(vcls('data', 'check', '--data-path', root))
    for words in ('I;16 4', 'F 4', ' I 4', 'CMYK 4', 'LA 4', 'P 4', 'sizes 32x32 px', '16-bit scaled to 8 bits 8',
                  'float 0-1 scaled to 8 bits 4', 'EXIF rotated 4', 'CMYK to RGB 4', '4 with several frames'):
        assert words in out, (words, out)


def test_float_image_out_of_range_is_refused_by_name(tmp_path, vcls):
    root = _modes_folder(tmp_path/'modes')
    Image.fromarray(np.full((8, 8), -3.0, np.float32)).save(root/'train'/'ramp'/'hdr.tif')
    assert_one_line_error(*vcls('data', 'check', '--data-path', root), 'hdr.tif', 'float values from -3 to -3',
                          '--skip-bad-images')


# -- class 5 and 6: carried on with a note; Ctrl-C says what is on disk ----------------------------------------------

def test_resume_with_a_changed_crop_says_what_differs(tiny_run, tmp_path, vcls):
    run = copy_run(tiny_run, tmp_path/'run')
    code, out, err = vcls('train', '--resume', run, '--epochs', '2', '--crop', '28', '--seed', '7')
    assert code == 0, err
    assert "crop 28 (the checkpoint's: 32)" in err and "epochs 2 (the checkpoint's: 1)" in err
    assert '--seed 7 is ignored' in err
    assert json.loads((run/'config.json').read_text())['recipe']['crop'] == 28


@pytest.mark.parametrize('epoch', [0, 1])
def test_second_ctrl_c_promises_only_what_was_written(epoch, tiny_data, tmp_path, vcls, monkeypatch):
    from vcls_lite import callbacks
    real = callbacks.StopOnSignal.after_batch
    def after_batch(self):
        if self.training and self.epoch == epoch and self.iter == 1: raise KeyboardInterrupt   # the second Ctrl-C
        return real(self)
    monkeypatch.setattr(callbacks.StopOnSignal, 'after_batch', after_batch)
    code, out, err = vcls('train', *TINY, '--epochs', '3', '--data-path', tiny_data, '--output-dir', tmp_path/'r')
    assert code == 130 and len(err.strip().splitlines()) == 1, err
    if epoch == 0:
        assert 'before any checkpoint was written' in err and not (tmp_path/'r'/'checkpoint.pth').exists()
    else:
        assert 'the checkpoint of epoch 0 is kept' in err and (tmp_path/'r'/'checkpoint.pth').exists()
