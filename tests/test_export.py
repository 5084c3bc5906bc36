"""`vcls export` (issue 20): ONNX fp32 and int8 and TorchScript files, each verified against the torch model on the
validation split before it is written, with its figures in `export.json`; `vcls predict` runs them."""
import json

import pytest

from conftest import copy_run, ok
from test_bad_input import assert_one_line_error


@pytest.fixture(scope='module')
def exported(sample_run, tmp_path_factory):
    "The smoke run of the sample exported three ways, into a copy of its folder."
    from vcls_lite.cli import capture
    run = copy_run(sample_run, tmp_path_factory.mktemp('export')/'run')
    figs = {k: json.loads(ok(capture('export', run, *a, '--json')))
            for k, a in (('fp32', []), ('int8', ['--int8', '--calib-batches', '4']), ('ts', ['--format', 'torchscript']))}
    return run, figs


def test_exports_are_verified_and_recorded(exported):
    run, f = exported
    assert f['fp32']['rel_logit_diff'] < 1e-4 and f['fp32']['top1_agreement'] == 1.0 and f['fp32']['images'] >= 100
    assert f['ts']['top1_agreement'] == 1.0
    assert f['int8']['top1_torch'] - f['int8']['top1_export'] <= 0.01 and f['int8']['bytes'] < f['fp32']['bytes'] / 2
    rec = json.loads((run/'export.json').read_text())
    assert sorted(rec) == ['model.onnx', 'model_int8.onnx', 'model_torchscript.pt']
    assert rec['model.onnx']['opset'] == 18 and rec['model_int8.onnx']['calib_images'] == 4 * 32


def test_the_onnx_file_carries_its_record_and_any_batch(exported):
    import numpy as np, onnxruntime as ort
    run, _ = exported
    s = ort.InferenceSession(str(run/'model.onnx'), providers=['CPUExecutionProvider'])
    meta = json.loads(s.get_modelmeta().custom_metadata_map['vcls'])
    assert meta['vocab'] == [str(i) for i in range(10)] and meta['preprocessing']['channels'] == 'RGB'
    crop = meta['recipe']['crop']
    assert s.run(None, {'image': np.zeros((3, 3, crop, crop), np.float32)})[0].shape == (3, 10)


@pytest.mark.parametrize('name, kind', [('model.onnx', 'onnx fp32'), ('model_int8.onnx', 'onnx int8'),
                                        ('model_torchscript.pt', 'torchscript fp32')])
def test_predict_runs_every_export(exported, name, kind, vcls):
    from vcls_lite.sources import sample_data
    run, _ = exported
    ref = json.loads(ok(vcls('predict', sample_data()/'validation'/'3', '--checkpoint', run, '--json')))
    res = json.loads(ok(vcls('predict', sample_data()/'validation'/'3', '--checkpoint', run/name, '--json')))
    assert res['kind'] == kind and len(res['predictions']) == len(ref['predictions'])
    same = sum(a['label'] == b['label'] for a, b in zip(res['predictions'], ref['predictions']))
    assert same >= (0.9 if 'int8' in kind else 1.0) * len(ref['predictions'])


def test_a_failed_check_writes_nothing(sample_run, tmp_path, vcls, monkeypatch):
    from vcls_lite import export
    monkeypatch.setitem(export.TOLERANCE, 'rel_logit', 0.0)
    code, out, err = vcls('export', sample_run, '--output', tmp_path/'m.onnx')
    assert code == 1 and "does not give the torch model's answers" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('args, words', [
    (lambda r, t: [r, '--format', 'tflite'], ['--format takes onnx or torchscript']),
    (lambda r, t: [r, '--format', 'torchscript', '--int8'], ['what `vcls quantize` writes']),
    (lambda r, t: [r, '--opset', '3'], ['--opset must be from 7']),
    (lambda r, t: [r, '--output', r/'model.onnx'], ['already exists']),
    (lambda r, t: [r, '--output', r/'config.json'/'m.onnx'], ['is a file']),
    (lambda r, t: [r, '--output', t], ['is a folder; pass a file name']),
    (lambda r, t: [t/'nothing.pth'], ['not found']),
    (lambda r, t: [r, '--int8', '--calib-batches', '0'], ['--calib-batches must be at least 1']),
])
def test_bad_export_input_is_one_line(exported, args, words, tmp_path, vcls):
    run, _ = exported
    before = sorted(p.name for p in run.iterdir())
    assert_one_line_error(*vcls('export', *args(run, tmp_path)), *words)
    assert sorted(p.name for p in run.iterdir()) == before


def test_a_damaged_record_file_is_kept(sample_run, tmp_path, vcls):
    (tmp_path/'export.json').write_text('{not json')
    assert_one_line_error(*vcls('export', sample_run, '--output', tmp_path/'m.onnx'), 'export.json is damaged')
    assert (tmp_path/'export.json').read_text() == '{not json' and not (tmp_path/'m.onnx').exists()
