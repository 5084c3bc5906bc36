"Quantization: every recipe model quantizes, the CLI's quantize / QAT / eval --int8 paths, and their bad input."
import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import copy_run, ok
from vcls_lite.models import build_model
from vcls_lite.quant import calibrate, convert_model, prepare_model, quant_method
from vcls_lite.recipes import RECIPES
from vcls_lite.scaling import MIN_CROP


def bad(res, msg):
    code, out, err = res
    assert code == 2 and len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
    assert msg in err, err
    return err


RECIPE_MODELS = sorted({r.model for r in RECIPES.values()})


# Each model's int8 twin in one of four fresh processes: an FX-prepared model is never freed within a process (something
# outside Python's collector keeps it), so one process quantizing all of them grew past 13 GB.
QUANTIZE_EACH = """
import json, sys, torch
from vcls_lite.models import build_model
from vcls_lite.quant import calibrate, convert_model, prepare_model
from vcls_lite.scaling import MIN_CROP
res = {}
for name in sys.argv[1:]:
    crop = max(32, MIN_CROP.get(name, 32))   # 32 px: ShuffleNet's 1x1 last map, which needs `quant.NCHW`
    fp = build_model(name, 10, crop, quantizable=True).eval()
    x = torch.randn(2, 3, crop, crop)
    p = prepare_model(fp, name, example=x[:1])
    calibrate(p, [(x, None)], 1)
    q = convert_model(p)
    with torch.no_grad(): ref, out = fp(x), q(x)
    res[name] = [list(ref.shape), list(out.shape), q.vcls_quant]
print(json.dumps(res))
"""


@pytest.mark.slow
@pytest.mark.parametrize('names', [RECIPE_MODELS[i::4] for i in range(4)], ids=lambda n: f'{n[0]}...')
def test_every_recipe_model_quantizes(names):
    "PTQ of every model a recipe names: eager for torchvision's quantizable twins, FX for the rest; int8 follows fp32."
    p = subprocess.run([sys.executable, '-c', QUANTIZE_EACH, *names], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res == {n: [[2, 10], [2, 10], quant_method(n)] for n in names}


@pytest.fixture(scope='module')
def mbv2(tmp_path_factory):
    "A smoke fp32 run of mobilenet_v2 on the sample, the start of the QAT runs (resnet18's is the shared `sample_run`)."
    from vcls_lite.cli import capture
    d = tmp_path_factory.mktemp('qruns')/'mbv2'
    ok(capture('train', '--recipe', 'torchvision/mobilenet_v2', '--scale', 'smoke', '--output-dir', d))
    return d


def test_quantize_json_and_eval_int8(sample_run, vcls, tmp_path):
    out = tmp_path/'q'
    rep = json.loads(ok(vcls('quantize', '--model', 'resnet18', '--checkpoint', sample_run/'checkpoint.pth', '--calib-batches', '2',
                             '--iters', '2', '--output-dir', out, '--json')))
    assert {'fp32_top1', 'fp32_top5', 'int8_top1', 'int8_top5', 'size_mb', 'speed', 'speedup'} <= set(rep)
    assert set(rep['speed']) == {'fp32', 'fp32 channels_last', 'int8'}
    assert rep['size_mb']['int8'] < rep['size_mb']['fp32'] / 3
    assert sorted(p.name for p in out.iterdir()) == ['int8_model.pt', 'report.json', 'report.md', 'report.png']
    ev = json.loads(ok(vcls('eval', '--int8', out/'int8_model.pt', '--json')))
    assert ev['top1'] == pytest.approx(rep['int8_top1']) and ev['backend'] == 'onednn'
    before = (out/'int8_model.pt').read_bytes()
    bad(vcls('quantize', '--checkpoint', sample_run/'checkpoint.pth', '--output-dir', out), 'already holds an int8 model')
    assert (out/'int8_model.pt').read_bytes() == before   # refused, nothing overwritten


@pytest.mark.slow
def test_quantize_fx_model_text_report(vcls, tmp_path):
    "A model without a quantizable twin goes through FX graph mode; the text report is a table."
    ok(vcls('train', '--model', 'regnetx800mf_x1', '--scale', 'smoke', '--output-dir', tmp_path/'regnet'))
    out = ok(vcls('quantize', '--checkpoint', tmp_path/'regnet/checkpoint.pth', '--calib-batches', '2', '--iters', '2'))
    assert 'regnetx800mf_x1  fx' in out and 'speedup' in out
    assert (tmp_path/'regnet/int8_onednn/int8_model.pt').is_file()


@pytest.fixture(scope='module')
def qat(mbv2, tmp_path_factory):
    "`vcls train` of the QAT recipe from the fp32 MobileNetV2, 5 epochs (past the BN and observer epochs): (folder, stdout)."
    from vcls_lite.cli import capture
    d = tmp_path_factory.mktemp('qat')/'qat'
    out = ok(capture('train', '--recipe', 'torchvision/qat_mobilenet_v2', '--scale', 'smoke', '--epochs', '5', '--weights',
                     mbv2/'checkpoint.pth', '--output-dir', d))
    return d, out


@pytest.mark.slow
def test_qat_cli(qat, vcls):
    "`vcls train` of the QAT recipe from an fp32 run: int8 columns in the log, the int8 model, and its evaluation."
    qat, out = qat
    assert 'int8 top1' in out
    m = json.loads((qat/'metrics.json').read_text())
    assert all('int8_top1' in h for h in m['history'])
    assert 'int8_top1' in (qat/'log.csv').read_text().splitlines()[0]
    rep = json.loads((qat/'report.json').read_text())
    assert rep['method'] == 'qat' and rep['fp32_top1'] is not None and 'speedup' in rep
    ev = json.loads(ok(vcls('eval', '--int8', qat/'int8_model.pt', '--json')))
    assert ev['top1'] == pytest.approx(m['history'][-1]['int8_top1'])
    bad(vcls('eval', qat/'checkpoint.pth'), 'quantization-aware training checkpoint')
    bad(vcls('quantize', '--checkpoint', qat/'checkpoint.pth'), 'quantization-aware training checkpoint')


@pytest.mark.slow
def test_qat_resume_keeps_observers_frozen(qat, vcls, tmp_path):
    "A resumed QAT run past the observer and BN epochs starts with both frozen, as the uninterrupted run would be."
    from vcls_lite.checkpoint import load_checkpoint
    qat = copy_run(qat[0], tmp_path/'qat')   # the 5-epoch run; the resume writes into its folder
    sd = load_checkpoint(qat/'checkpoint.pth')['model']
    obs = [v for k, v in sd.items() if k.endswith('observer_enabled')]
    assert obs and all(int(v[0]) == 0 for v in obs)   # epoch index 4 done: observers off
    ok(vcls('train', '--resume', qat/'checkpoint.pth', '--epochs', '6'))
    m = json.loads((qat/'metrics.json').read_text())
    assert [h['epoch'] for h in m['history']] == list(range(6))
    sd = load_checkpoint(qat/'checkpoint.pth')['model']
    assert all(int(v[0]) == 0 for k, v in sd.items() if k.endswith('observer_enabled'))


@pytest.mark.parametrize('args, msg', [
    (('quantize', '--checkpoint', 'CK', '--backend', 'qnnpackk'), "backend 'qnnpackk' is not supported"),
    (('quantize', '--checkpoint', 'CK', '--model', 'vgg11'), 'does not match the checkpoint'),
    (('quantize', '--checkpoint', 'CK', '--batch-size', '0'), 'batch-size must be at least 1'),
    (('quantize', '--checkpoint', 'CK', '--data-path', 'FOLDER'), 'differ from the checkpoint'),
    (('quantize', '--checkpoint', 'JUNK'), 'cannot be read as a checkpoint'),
    (('eval', '--int8', 'JUNK'), 'is not an int8 model'),
    (('eval', 'CK', '--int8', 'JUNK'), 'pass either a checkpoint or --int8'),
    (('train', '--recipe', 'torchvision/qat_mobilenet_v2', '--scale', 'smoke', '--weights', 'CK'), 'do not fit this model'),
    (('train', '--recipe', 'torchvision/qat_mobilenet_v2', '--scale', 'smoke', '--weights', 'MBV2', '--data-path', 'FOLDER'),
     'trained on other classes'),
    (('train', '--recipe', 'torchvision/qat_mobilenet_v2', '--scale', 'smoke', '--weights', 'MBV2', '--backend', 'nope'),
     "backend 'nope' is not supported"),
])
@pytest.mark.slow
def test_bad_quant_input(sample_run, mbv2, vcls, folder, tmp_path, args, msg):
    (tmp_path/'junk').write_bytes(b'\x00junk')
    subst = {'CK': sample_run/'checkpoint.pth', 'MBV2': mbv2/'checkpoint.pth', 'FOLDER': folder, 'JUNK': tmp_path/'junk'}
    args = [str(subst.get(a, a)) for a in args]
    if args[0] == 'train': args += ['--output-dir', str(tmp_path/'out')]
    before = [sorted(p.name for p in d.rglob('*')) for d in (sample_run, mbv2)]
    bad(vcls(*args), msg)
    assert [sorted(p.name for p in d.rglob('*')) for d in (sample_run, mbv2)] == before


@pytest.mark.slow
def test_quantize_pt2e(sample_run, vcls, tmp_path):
    "The torchao PT2E option: same int8 accuracy as the eager path within noise, reported beside it."
    pytest.importorskip('torchao', reason='the PT2E option needs torchao (a dev requirement)')
    rep = json.loads(ok(vcls('quantize', '--checkpoint', sample_run/'checkpoint.pth', '--calib-batches', '2', '--iters', '2',
                             '--output-dir', tmp_path/'q', '--pt2e', '--json')))
    assert {'top1', 'top5', 'throughput', 'latency_ms', 'speedup'} <= set(rep['pt2e'])
    assert abs(rep['pt2e']['top1'] - rep['int8_top1']) < 0.05
