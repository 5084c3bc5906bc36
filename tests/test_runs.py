"End-to-end runs through the command line: outputs, checkpoints, resume, evaluation and every data source."
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import TINY, copy_run, ok

RUN_FILES = ['checkpoint.pth', 'config.json', 'confusion_matrix.png', 'curves.png', 'log.csv', 'lr_schedule.png',
             'metrics.json', 'predictions.png']


def test_run_folder(sample_run):
    assert sorted(p.name for p in sample_run.iterdir()) == RUN_FILES
    for png in sample_run.glob('*.png'): assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_metrics_json(sample_run):
    m = json.loads((sample_run/'metrics.json').read_text())
    assert m['status'] == 'finished' and m['epochs_done'] == m['epochs'] == 2 and len(m['history']) == 2
    assert (m['n_train'], m['n_valid'], m['classes'], m['model']) == (4000, 1000, 10, 'resnet18')
    for k in ('top1', 'top5', 'train_loss', 'valid_loss', 'lr', 'train_seconds', 'images_per_sec', 'params', 'gmacs'):
        assert isinstance(m[k], (int, float)), k
    for h in m['history']:
        assert 0 <= h['top1'] <= h['top5'] <= 1 and h['images_per_sec'] > 0 and h['train_seconds'] > 0
    # demo lr (0.1 x 64/256): one epoch of warmup from 1%, then the squeezed step schedule's first rate
    assert [h['lr'] for h in m['history']] == pytest.approx([0.025 * 0.01, 0.025])


def test_log_csv(sample_run):
    rows = (sample_run/'log.csv').read_text().splitlines()
    assert rows[0] == 'epoch,train_loss,valid_loss,top1,top5,time' and [r.split(',')[0] for r in rows[1:]] == ['0', '1']


def test_checkpoint_loads_weights_only(sample_run):
    ck = torch.load(sample_run/'checkpoint.pth', weights_only=True)
    assert {'model', 'optimizer', 'scheduler', 'epoch', 'rng', 'loader_rng', 'config', 'history', 'vocab'} <= set(ck)
    assert ck['epoch'] == 1 and ck['vocab'] == [str(i) for i in range(10)]
    assert ck['config']['recipe']['model'] == 'resnet18' and ck['config']['run']['scale'] == 'smoke'
    assert 'momentum_buffer' in next(iter(ck['optimizer']['state'].values()))


def test_test_only_and_eval_match_the_run(vcls, sample_run):
    m = json.loads((sample_run/'metrics.json').read_text())
    out = ok(vcls('train', '--test-only', '--resume', sample_run/'checkpoint.pth'))
    assert f"top1 {m['top1']:.4f}" in out
    res = json.loads(ok(vcls('eval', sample_run/'checkpoint.pth', '--json')))
    assert res['top1'] == pytest.approx(m['top1']) and res['n_valid'] == 2 * 128   # smoke: 2 validation batches of 2 x 64


@pytest.mark.slow
def test_resume_continues_where_it_stopped(vcls, tmp_path):
    """A run stopped after epoch 0 and resumed ends exactly like the same run done in one go (2 epochs). The schedule
    is one whose first epoch does not depend on the run's length: a step every epoch without warmup (the smoke scale's
    linear decay to zero over 1 epoch cannot be the first half of the same decay over 2)."""
    sched = ('--sched', 'step', '--sched-on', 'epoch', '--lr-step-size', '1', '--lr-warmup-epochs', '0')
    ok(vcls('train', '--scale', 'smoke', '--epochs', '2', *sched, '--output-dir', tmp_path/'b'))
    ok(vcls('train', '--scale', 'smoke', '--epochs', '1', *sched, '--output-dir', tmp_path/'a'))
    ok(vcls('train', '--resume', tmp_path/'a'/'checkpoint.pth', '--epochs', '2'))
    a, b = (json.loads((d/'metrics.json').read_text()) for d in (tmp_path/'a', tmp_path/'b'))
    assert [h['epoch'] for h in a['history']] == [0, 1] and b['epochs'] == 2
    assert len((tmp_path/'a'/'log.csv').read_text().splitlines()) == 3          # one header, no empty rows
    for k in ('train_loss', 'valid_loss', 'top1', 'lr'):
        assert [h[k] for h in a['history']] == pytest.approx([h[k] for h in b['history']], rel=1e-5), k
    wa, wb = (torch.load(d/'checkpoint.pth', weights_only=True)['model'] for d in (tmp_path/'a', tmp_path/'b'))
    assert all(torch.allclose(wa[k].float(), wb[k].float(), atol=1e-5) for k in wa)


@pytest.mark.slow
def test_resume_reads_the_checkpoints_data(vcls, tiny_run, tmp_path):
    "Resuming without --data-path continues on the data the run was started on, not on the sample."
    copy_run(tiny_run, tmp_path/'run')   # a 1-epoch TINY run on the 3-class folder
    ok(vcls('train', '--resume', tmp_path/'run'/'checkpoint.pth', '--epochs', '2'))
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert (m['epochs_done'], m['n_train'], m['classes']) == (2, 12, 3)


@pytest.mark.slow
def test_amp_on_cpu(vcls, tmp_path):
    "--amp on a CPU trains with bfloat16 autocast, and says when the CPU lacks native bf16."
    code, out, err = vcls('train', '--scale', 'smoke', '--epochs', '1', '--amp', '--device', 'cpu', '--output-dir', tmp_path/'run')
    assert code == 0, err
    from vcls_lite.core import cpu_has_bf16
    assert ('no native bf16' in err) == (not cpu_has_bf16())


@pytest.mark.slow
def test_cifar10_batches(vcls, tmp_path):
    from vcls_lite.sources import write_cifar10
    write_cifar10(tmp_path/'cifar', n_train=40, n_test=20)
    out = ok(vcls('data', 'check', '--data-path', tmp_path/'cifar'))
    assert 'cifar10 data' in out and '40 training and 20 validation' in out
    ok(vcls('train', '--dataset_name', 'cifar10_classification', '--data_path', tmp_path/'cifar', '--model_name', 'mobilenetv2_tv_x1',
            '--img_resize', '32', '--img_crop', '32', '--rand_scale', '0.5', '1.0', '--strides', 'auto', '--scale', 'smoke',
            '-b', '8', '--epochs', '1', '--output-dir', tmp_path/'run'))
    cfg = json.loads((tmp_path/'run'/'config.json').read_text())
    assert cfg['data']['source'] == 'cifar10' and cfg['recipe']['strides'] == 'auto'


@pytest.mark.slow
def test_cambricon_list_files(vcls, folder, tmp_path):
    "train.txt / val.txt beside train/ and val/ (Cambricon's ImageNet layout)."
    (folder/'validation').rename(folder/'val')
    for split in ('train', 'val'):
        lines = [f"{p.parent.name}/{p.name} {['ant', 'bee', 'cat'].index(p.parent.name)}"
                 for p in sorted((folder/split).rglob('*.png'))]
        (folder/f'{split}.txt').write_text('\n'.join(lines) + '\n')
    out = json.loads(ok(vcls('data', 'check', '--data', folder, '--json')))
    assert (out['source'], out['n_train'], out['n_valid'], out['vocab']) == ('list', 12, 6, ['ant', 'bee', 'cat'])
    ok(vcls('train', *TINY, '--data', folder, '-a', 'resnet18', '--output-dir', tmp_path/'run'))


@pytest.mark.slow
def test_fake_data(vcls, tmp_path):
    ok(vcls('train', '--dummy_test', '--scale', 'smoke', '--epochs', '1', '--output-dir', tmp_path/'run'))
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert (m['classes'], m['n_train']) == (1000, 512) and not (tmp_path/'run'/'confusion_matrix.png').exists()


@pytest.mark.slow
def test_image_modes_become_rgb(vcls, folder, tmp_path):
    "Grayscale, palette, RGBA and CMYK files in one dataset."
    for i, mode in enumerate(['L', 'P', 'RGBA', 'CMYK', 'LA', 'I;16']):
        ext = '.jpg' if mode == 'CMYK' else '.tiff' if mode == 'I;16' else '.png'
        Image.new(mode, (40, 30)).save(folder/'train'/'ant'/f'mode{i}{ext}')
    ok(vcls('train', *TINY, '--data-path', folder, '--output-dir', tmp_path/'run'))


def test_seed_command_verbatim(vcls):
    cmd = 'train --model mobilenet_v2 --epochs 300 --lr 0.045 --wd 0.00004 --lr-step-size 1 --lr-gamma 0.98'.split()
    r = json.loads(ok(vcls(*cmd, '--data-path', '/data/imagenet', '--dry-run')))['recipe']
    assert (r['model'], r['epochs'], r['lr'], r['weight_decay'], r['schedule']['step_size'], r['schedule']['gamma'],
            r['batch_size']) == \
           ('mobilenet_v2', 300, 0.045, 4e-5, 1, 0.98, 32)


def test_underscore_and_seed_aliases(vcls):
    args = ['--batch_size', '64', '--lr_step_size', '7', '--lr_gamma', '0.5', '--weight_decay', '0.001', '--apex',
            '--print_freq', '5', '--start_epoch', '3', '-j', '0', '--seed', '9', '--output_dir', '/tmp/x', '--data', '/d']
    d = json.loads(ok(vcls('train', *args, '--dry-run')))
    r, run = d['recipe'], d['run']
    assert (r['batch_size'], r['schedule']['step_size'], r['schedule']['gamma'], r['weight_decay'], r['amp']) == \
           (64, 7, 0.5, 0.001, True)
    assert (run['print_freq'], run['start_epoch'], run['workers'], run['seed'], run['output_dir'], run['data_path']) == \
           (5, 3, 0, 9, '/tmp/x', '/d')
    assert json.loads(ok(vcls('train', '--apex=False', '--dry-run')))['recipe']['amp'] is False


def test_scale_lr_is_opt_in(vcls):
    lr = lambda *a: json.loads(ok(vcls('train', *a, '--dry-run')))['recipe']['lr']
    assert lr('--scale', 'full', '-b', '64') == 0.1 and lr('--scale', 'full', '-b', '64', '--scale-lr') == pytest.approx(0.025)


def test_listing_commands(vcls):
    assert 'resnet' in ok(vcls('recipes'))
    rec = json.loads(ok(vcls('recipes', '--json')))[0]
    assert {'name', 'source', 'model', 'epochs', 'batch_size', 'lr', 'momentum', 'weight_decay', 'schedule',
            'resize', 'crop', 'mean', 'std', 'scales'} <= set(rec)
    models = json.loads(ok(vcls('models', '--json')))
    assert {'resnet18', 'mobilenet_v2', 'mobilenetv1_x1', 'resnet50_xp5', 'regnetx800mf_x1'} <= set(models['models'])
    assert Path(ok(vcls('data', 'sample')).strip(), 'train', '7').is_dir()
