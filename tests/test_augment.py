"""Today's torchvision training primitives (issue 21, second part): MixUp/CutMix, auto-augment policies, random
erasing, the EMA of the weights, repeated-augmentation sampling, separate train/val crops and the interpolation, from
the command line to a run that resumes; the ResNet-50 V2 command verbatim; bad values refused in one line."""
import csv, dataclasses, json

import pytest
import torch
from torchvision.transforms import v2

from conftest import TINY, ok

V2_COMMAND = ('--model resnet50 --batch-size 128 --lr 0.5 --lr-scheduler cosineannealinglr --lr-warmup-epochs 5 '
              '--lr-warmup-method linear --auto-augment ta_wide --epochs 600 --random-erase 0.1 --weight-decay 0.00002 '
              '--norm-weight-decay 0.0 --label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0 '
              '--train-crop-size 176 --model-ema --val-resize-size 232 --ra-sampler --ra-reps 4').split()


def test_the_resnet50_v2_command_is_the_registered_v2_recipe(tiny_data, vcls):
    """torchvision's command verbatim (with a data path: full scale) resolves to every number of `resnet50_v2` but
    `global_batch`, the recipe's images per step over its 8 processes (only `--scale-lr` reads it)."""
    from vcls_lite.recipes import get_recipe
    dry = json.loads(ok(vcls('train', *V2_COMMAND, '--data-path', tiny_data, '--dry-run')))
    want, SKIP = get_recipe('torchvision/resnet50_v2').to_dict(), ('name', 'source', 'global_batch')
    assert {k: v for k, v in dry['recipe'].items() if k not in SKIP} == {k: v for k, v in want.items() if k not in SKIP}
    assert dry['run']['scale'] == 'full'


def test_all_primitives_train_evaluate_the_ema_and_resume(tiny_data, tmp_path, vcls):
    flags = ['--auto-augment', 'ta_wide', '--random-erase', '0.5', '--mixup-alpha', '0.2', '--cutmix-alpha', '1.0',
             '--label-smoothing', '0.1', '--model-ema', '--model-ema-steps', '1', '--train-crop-size', '24',
             '--interpolation', 'bicubic', '--ra-sampler', '--ra-reps', '2']
    code, out, err = vcls('train', *TINY, *flags, '--data-path', tiny_data, '--output-dir', tmp_path/'r')
    assert code == 0, err
    assert 'EMA top1' in out and 'note: --ra-sampler applies under torchrun only' in err
    rows = list(csv.DictReader((tmp_path/'r'/'log.csv').open()))
    assert 'ema_top1' in rows[0] and float(rows[0]['ema_top1']) >= 0
    m = json.loads((tmp_path/'r'/'metrics.json').read_text())
    assert m['ema_top1'] is not None and m['history'][0]['ema_top1'] == m['ema_top1']
    ck = torch.load(tmp_path/'r'/'checkpoint.pth', weights_only=True)
    n0 = ck['model_ema']['n_averaged'].item()
    assert n0 == 3   # 12 images, batch 4: three steps, an update after each
    e = json.loads(ok(vcls('eval', tmp_path/'r'/'checkpoint.pth', '--ema', '--json')))
    assert abs(e['top1'] - m['ema_top1']) < 1e-6   # the average saved is the one evaluated in training
    ok(vcls('train', '--resume', tmp_path/'r', '--epochs', '2'))
    ck = torch.load(tmp_path/'r'/'checkpoint.pth', weights_only=True)
    assert ck['epoch'] == 1 and ck['model_ema']['n_averaged'].item() == n0 + 3   # the average went on
    assert len(list(csv.DictReader((tmp_path/'r'/'log.csv').open()))) == 2


def test_the_primitives_without_the_image_cache(tiny_data, tmp_path, vcls):
    ok(vcls('train', *TINY, '--no-cache', '--auto-augment', 'augmix', '--random-erase', '0.5', '--cutmix-alpha', '1',
            '--train-crop-size', '24', '--data-path', tiny_data, '--output-dir', tmp_path/'r'))
    code, out, err = vcls('eval', tmp_path/'r'/'checkpoint.pth', '--ema')   # trained without --model-ema
    assert code == 2 and 'without --model-ema' in err and len(err.strip().splitlines()) == 1, err


def test_train_and_val_crops_and_the_interpolation(tiny_data):
    from vcls_lite.augment import Augment
    from vcls_lite.data import get_dls
    for mode in ('nearest', 'bilinear', 'bicubic'):
        dls = get_dls(tiny_data, crop=32, resize=36, train_crop=24, bs=4, interpolation=mode,
                      augment=Augment('ra', mode, erase=0.5, mixup=0.2))
        x, y = dls.train.one_batch()
        assert (x.shape[-1], y.shape) == (24, (4, 3))   # mixed labels: class probabilities
        xv, yv = dls.valid.one_batch()
        assert (xv.shape[-1], yv.ndim) == (32, 1)


def test_the_cached_eval_matches_torchvision_for_each_interpolation(tiny_data):
    "The batch eval path (resize 36 of a 40 px image, center 32) equals torchvision's eval transforms per image."
    from vcls_lite.data import BatchCrop, eval_tfms
    from vcls_lite.images import load_rgb
    img = load_rgb(next((tiny_data/'validation').rglob('*.png')))
    for mode in ('nearest', 'bilinear', 'bicubic'):
        ours = BatchCrop(32, 36, interpolation=mode)(img[None])[0]
        ref = eval_tfms(36, 32, mode)(img).float()
        assert (ours - ref).abs().mean() < 1.0, mode   # uint8 rounding apart


def test_the_ra_sampler_order_under_torchrun_is_torchvisions():
    from vcls_lite.augment import ra_order
    from vcls_lite.data import BatchImages, BatchLoader
    ds = BatchImages(torch.zeros(600, 3, 4, 4, dtype=torch.uint8).numpy(), [0] * 600, ['a'])
    dl = BatchLoader(ds, bs=16, shuffle=True, seed=5, part=(1, 2), ra_reps=4)
    dl.epoch = 2
    assert dl.get_idxs() == ra_order(600, 4, 5, 2, 1, 2) and len(dl) == 512 // 2 // 16


BAD = [
    (['--mixup-alpha', '-0.2'], "--mixup-alpha is a Beta distribution's alpha"),
    (['--cutmix-alpha', '-1'], "--cutmix-alpha is a Beta distribution's alpha"),
    (['--auto-augment', 'ta-wide'], "--auto-augment takes ta_wide, ra, augmix, imagenet, cifar10, svhn, got 'ta-wide'"),
    (['--auto-augment', 'randaugment'], "--auto-augment takes"),
    (['--ra-magnitude', '40'], '--ra-magnitude is a bin of 0-30'),
    (['--augmix-severity', '0'], '--augmix-severity must be from 1 to 10'),
    (['--random-erase', '1.5'], '--random-erase is a probability'),
    (['--model-ema-decay', '1.0'], '--model-ema-decay must be in (0, 1)'),
    (['--model-ema-decay', '0'], '--model-ema-decay must be in (0, 1)'),
    (['--model-ema-steps', '0'], '--model-ema-steps must be at least 1'),
    (['--ra-reps', '0'], '--ra-reps must be at least 1'),
    (['--train-crop-size', '0'], '--train-crop-size must be from 1 to 4096'),
    (['--interpolation', 'cubic'], '--interpolation takes nearest, bilinear, bicubic'),
    (['--aug-px-scale', '2'], '--aug-px-scale is a factor in (0, 1]'),
    (['--model-ema', 'maybe'], "expected true or false"),
    (['--mixup-alpha', 'lots'], "invalid float value"),
]


@pytest.mark.parametrize('flags, msg', BAD, ids=[' '.join(f) for f, _ in BAD])
def test_bad_primitive_values_are_one_line_and_exit_2(flags, msg, tiny_data, tmp_path, vcls):
    code, out, err = vcls('train', *TINY, *flags, '--data-path', tiny_data, '--output-dir', tmp_path/'r')
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path/'r').exists()   # nothing written


def test_logdir_writes_tensorboard_events_a_test_reads_back(tiny_data, tmp_path, vcls):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    ok(vcls('train', *TINY, '--epochs', '2', '--model-ema', '--data-path', tiny_data, '--output-dir', tmp_path/'r',
            '--logdir', tmp_path/'tb'))
    acc = EventAccumulator(str(tmp_path/'tb'), size_guidance={'scalars': 0, 'images': 0}); acc.Reload()
    tags = acc.Tags()
    assert {'loss/train', 'loss/valid', 'accuracy/top1', 'accuracy/top5', 'accuracy/ema_top1', 'lr/epoch',
            'speed/images_per_sec', 'loss/train_smooth', 'lr/step'} <= set(tags['scalars'])
    assert [e.step for e in acc.Scalars('accuracy/top1')] == [0, 1]
    m = json.loads((tmp_path/'r'/'metrics.json').read_text())
    assert abs(acc.Scalars('accuracy/top1')[-1].value - m['top1']) < 1e-6
    assert {'report/curves', 'report/lr_schedule', 'report/predictions'} <= set(tags['images'])


def test_logdir_refusals(tiny_data, tmp_path, vcls, monkeypatch):
    (tmp_path/'afile').write_text('x')
    code, out, err = vcls('train', *TINY, '--data-path', tiny_data, '--output-dir', tmp_path/'r', '--logdir',
                          tmp_path/'afile')
    assert code == 2 and 'afile' in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setitem(__import__('sys').modules, 'torch.utils.tensorboard', None)   # as if not installed
    code, out, err = vcls('train', *TINY, '--data-path', tiny_data, '--output-dir', tmp_path/'r2', '--logdir',
                          tmp_path/'tb')
    assert code == 2 and "pip install 'vcls_lite[tensorboard]'" in err and not (tmp_path/'r2').exists(), err
