"The recipe registry on the command line: listings, show/diff, schedules in real runs, complexity, bad input."
import dataclasses, json

import pytest
import torch

from test_bad_input import assert_one_line_error
from test_runs import ok

SEEDS = ('torchvision', 'edgeailite', 'cambricon')
JSON_KEYS = {'name', 'source', 'model', 'epochs', 'batch_size', 'global_batch', 'optimizer', 'lr', 'momentum',
             'weight_decay', 'schedule', 'resize', 'crop', 'mean', 'std', 'image_mean', 'image_scale', 'channel_reverse', 'sources', 'scales'}


def test_recipes_json_lists_every_seed_recipe(vcls):
    rs = json.loads(ok(vcls('recipes', '--json')))
    assert len(rs) == 45 and {r['name'].split('/')[0] for r in rs} == set(SEEDS)
    for r in rs:
        assert JSON_KEYS <= set(r), JSON_KEYS - set(r)
        assert {'demo', 'smoke'} <= set(r['scales'])
        for k in ('lr', 'epochs', 'weight_decay', 'batch_size', 'schedule.kind'): assert r['sources'][k], (r['name'], k)
        assert {'kind', 'on', 'step_size', 'gamma', 'milestones', 'pct_start', 'div_factor', 'warmup'} <= set(r['schedule'])
    table = ok(vcls('recipes'))
    assert all(r['name'] in table for r in rs)


def test_seed_numbers(vcls):
    "Spot checks against the three READMEs."
    get = lambda n: json.loads(ok(vcls('recipes', 'show', n, '--json')))
    mb = get('torchvision/mobilenet_v2')
    s = mb['schedule']
    assert (mb['epochs'], mb['lr'], mb['weight_decay'], s['kind'], s['step_size'], s['gamma']) == (300, 0.045, 4e-5, 'step', 1, 0.98)
    assert mb['sources']['schedule.gamma'] == 'tv: MobileNetV2 command'
    assert get('torchvision/vgg16')['lr'] == 0.01 and get('torchvision/vgg16_bn')['lr'] == 0.1
    assert get('torchvision/resnext101_32x8d')['epochs'] == 100
    assert (get('torchvision/inception_v3')['resize'], get('torchvision/inception_v3')['crop']) == (342, 299)
    qat = get('torchvision/qat_mobilenet_v2')
    assert (qat['lr'], qat['quant'], qat['schedule']['step_size'], qat['schedule']['gamma']) == (1e-4, 'qat', 30, 0.1)
    cam = get('cambricon/resnet18')['schedule']
    assert (cam['kind'], cam['power']) == ('poly', 1.0)
    rg = get('regnetx800mf_x1')
    assert rg['channel_reverse'] and rg['image_mean'] == [103.53, 116.28, 123.675] and rg['image_scale'] == [0.017429, 0.017507, 0.017125]
    c10 = get('edgeailite/cifar10_mobilenetv2_tv_x1')
    assert (c10['crop'], c10['resize'], c10['rand_scale'], c10['strides'], c10['dataset']) == (32, 32, [0.5, 1.0], 'auto', 'cifar10')
    sh = get('cambricon/shufflenet_v2_x0_5')
    assert (sh['lr'], sh['weight_decay'], sh['epochs'], sh['schedule']['kind'], sh['optimizer']) == (0.5, 4e-5, 300, 'poly', 'sgd')


def test_show_gives_the_whole_schedule(vcls):
    r = json.loads(ok(vcls('recipes', 'show', 'torchvision/resnet50', '--json')))
    assert len(r['lr_per_epoch']) == 90 and r['lr_per_epoch'][29:31] == pytest.approx([0.1, 0.01])
    r = json.loads(ok(vcls('recipes', 'show', 'edgeailite/mobilenetv1_x1', '--json')))
    assert r['lr_per_epoch'][0] == pytest.approx(1e-4) and r['lr_per_epoch'][5] == pytest.approx(0.1)   # 5-epoch warmup
    demo = json.loads(ok(vcls('recipes', 'show', 'resnet', '--scale', 'demo', '--json')))
    assert (demo['epochs'], demo['lr']) == (18, 0.025)
    assert 'learning rate per epoch' in ok(vcls('recipes', 'show', 'cambricon/vgg16'))


def test_diff(vcls):
    d = json.loads(ok(vcls('recipes', 'diff', 'torchvision/resnet50', 'cambricon/resnet50', '--json')))
    assert d['epochs'] == [90, 100] and d['schedule.kind'] == ['step', 'poly'] and 'lr' not in d
    assert 'are the same' in ok(vcls('recipes', 'diff', 'resnet', 'torchvision/resnet18'))


@pytest.mark.parametrize('name', ['torchvision/mobilenet_v2', 'edgeailite/regnetx800mf_x1', 'cambricon/resnet18'])
def test_train_recipe_dry_run(vcls, name):
    cfg = json.loads(ok(vcls('train', '--recipe', name, '--data-path', '/data/imagenet', '--dry-run')))
    assert cfg['recipe']['name'] == name and cfg['run']['scale'] == 'full'


@pytest.mark.parametrize('name, flags', [('cambricon/shufflenet_v2_x0_5', ['--sched-on', 'epoch']),
                                         ('edgeailite/regnetx800mf_x1', [])])
@pytest.mark.slow
def test_smoke_runs_follow_their_schedule(vcls, tmp_path, name, flags):
    "A real smoke run: the learning rate at the first step of each epoch is the recipe's schedule."
    from vcls_lite.recipes import get_recipe
    ok(vcls('train', '--recipe', name, '--scale', 'smoke', *flags, '--output-dir', tmp_path/'run'))
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    ck = torch.load(tmp_path/'run'/'checkpoint.pth', weights_only=True)
    r = get_recipe(name).at_scale('smoke')
    n = 1 if flags else r.iters   # the demo rule updates the rate every step; --sched-on epoch puts it back
    sched = dataclasses.replace(r.schedule, on='epoch') if flags else r.schedule.in_steps(n)
    assert [h['lr'] for h in m['history']] == pytest.approx([sched.lr(e * n, r.lr, r.epochs * n) for e in range(r.epochs)])
    assert ck['scheduler']['kind'] == r.schedule.kind and ck['scheduler']['on'] == ('epoch' if flags else 'step')


@pytest.mark.slow
def test_complexity(vcls):
    res = json.loads(ok(vcls('complexity', '--model', 'resnet50', '--json')))
    assert res['params'] == 25_557_032 and abs(res['gmacs'] / res['published']['gmacs'] - 1) < 0.01
    rows = json.loads(ok(vcls('complexity', '--recipes', '--json')))
    assert len(rows) == 45
    for r in rows:   # torchvision's figures within 1% (or its rounding), edgeailite's within 2%
        if r['tv_gmacs']: assert abs(r['gmacs'] - r['tv_gmacs']) <= max(0.01 * r['tv_gmacs'], 0.0005 + 1e-9), r
        if r['ti_gmacs']: assert abs(r['gmacs'] / r['ti_gmacs'] - 1) < 0.02, r
    assert 'edgeailite' in ok(vcls('complexity', '--recipes'))


@pytest.mark.parametrize('args, needles', [
    (['recipes', 'show', 'torchvision/resnt50'], ['unknown recipe', 'did you mean torchvision/resnet50']),
    (['recipes', 'show', 'vgg16'], ['exists in several seeds', 'cambricon/vgg16']),
    (['recipes', 'diff', 'resnet'], ['takes 2 recipe names']),
    (['train', '--recipe', 'cambrcon/vgg16', '--dry-run'], ['did you mean cambricon/vgg16']),
    (['train', '--epochs', '3.5', '--dry-run'], ["invalid int value: '3.5'"]),
    (['train', '--zero-init', 'tail', '--dry-run'], ['--zero-init takes head and residual, got tail']),
    (['train', '--init', 'xavier', '--dry-run'], ['--init takes model or he, got xavier']),
    (['train', '--lr-step-size', '0', '--dry-run'], ['lr-step-size must be a positive']),
    (['train', '--lr-gamma', '-0.1', '--dry-run'], ['lr-gamma must be positive']),
    (['train', '--warmup-epochs', '18', '--dry-run'], ['-warmup-epochs (18) must be shorter than the run (18 epochs)']),
    (['train', '--lr-scheduler', 'multistep', '--lr-milestones', '9', '3', '--dry-run'], ['--lr-milestones must be increasing']),
    (['train', '--lr-scheduler', 'cosin', '--dry-run'], ["unknown schedule 'cosin'"]),
    (['train', '--lr-scheduler', 'onecycle', '--warmup-epochs', '2', '--dry-run'], ['onecycle warms up by itself', '--pct-start']),
    (['train', '--lr-scheduler', 'onecycle', '--pct-start', '1.5', '--dry-run'], ['--pct-start must be between 0 and 1']),
    (['train', '--lr-scheduler', 'onecycle', '--div-factor', '0', '--dry-run'], ['--div-factor must be positive']),
    (['train', '--opt', 'adam', '--dry-run'], ['--opt takes sgd, sgd_nesterov, rmsprop, adamw']),
    (['train', '--label-smoothing', '1', '--dry-run'], ['--label-smoothing is the probability mass']),
    (['train', '--clip-grad-norm', '-1', '--dry-run'], ['--clip-grad-norm must be positive']),
    (['train', '--norm-weight-decay', '2', '--dry-run'], ['--norm-weight-decay must be in [0, 1]']),
    (['train', '--recipe', 'torchvision/qat_mobilenet_v2', '--scale', 'smoke'], ['fine-tunes a trained fp32 model', '--weights']),
    (['complexity', '--model', 'resnet19'], ['did you mean resnet18']),
    (['complexity', '--model', 'alexnet', '--size', '32'], ['cannot take a 32 px input']),
    (['complexity', '--model', 'alexnet', '--size', '0'], ['--size must be positive']),
])
def test_bad_recipe_input(vcls, args, needles):
    assert_one_line_error(*vcls(*args), *needles)


def test_wrong_type_override_from_python():
    import dataclasses
    from vcls_lite.core import ConfigError
    from vcls_lite.recipes import get_recipe
    with pytest.raises(ConfigError, match='recipe field epochs must be int'): dataclasses.replace(get_recipe(), epochs='90').check()


def test_a_shorter_demo_keeps_a_warmup_that_fits(vcls):
    "The demo rule's one epoch of warmup gives way to --epochs 1; a warmup asked for on the command line does not."
    cfg = json.loads(ok(vcls('train', '--scale', 'demo', '--epochs', '1', '--dry-run')))
    assert (cfg['recipe']['epochs'], cfg['recipe']['schedule']['warmup']) == (1, 0)
    cfg = json.loads(ok(vcls('train', '--scale', 'demo', '--epochs', '3', '--dry-run')))
    assert cfg['recipe']['schedule']['warmup'] == 1
    code, out, err = vcls('train', '--scale', 'demo', '--epochs', '1', '--lr-warmup-epochs', '1', '--dry-run')
    assert code == 2 and 'must be shorter than the run' in err
