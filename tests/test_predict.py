"""`vcls predict` (issue 20): the top classes of new images from a checkpoint or an int8 model, with exactly the
top-1 of `vcls eval` on the validation folder, bad files reported in the table, and its outputs checked first."""
import csv, json
from pathlib import Path

import pytest
from PIL import Image

from conftest import ok
from test_bad_input import assert_one_line_error


def test_predicting_the_validation_folder_gives_eval_top1(tiny_run, tiny_data, vcls):
    res = json.loads(ok(vcls('predict', tiny_data/'validation', '--checkpoint', tiny_run, '--json')))
    ev = json.loads(ok(vcls('eval', tiny_run/'checkpoint.pth', '--json')))
    acc = res['folder_top1']
    assert acc['n'] == ev['n_valid'] == 6 and acc['correct'] == round(ev['top1'] * ev['n_valid'])
    assert [r['path'] for r in res['predictions']] == sorted(str(p) for p in (tiny_data/'validation').rglob('*.png'))
    r = res['predictions'][0]
    assert len(r['topk']) == 3 and abs(sum(p for _, p in r['topk']) - 1) < 1e-4   # three classes, their probabilities


def test_the_int8_model_predicts_as_vcls_eval_int8_scores(tiny_run, tiny_data, tmp_path, vcls):
    ok(vcls('quantize', '--checkpoint', tiny_run/'checkpoint.pth', '--output-dir', tmp_path/'q', '--calib-batches', '2',
            '--iters', '1'))
    res = json.loads(ok(vcls('predict', tiny_data/'validation', '--int8', tmp_path/'q'/'int8_model.pt', '--json')))
    ev = json.loads(ok(vcls('eval', '--int8', tmp_path/'q'/'int8_model.pt', '--json')))
    assert res['kind'] == 'int8' and res['folder_top1']['correct'] == round(ev['top1'] * ev['n_valid'])


def test_python_predict_takes_a_path_a_pil_image_or_a_tensor(tiny_run, tiny_data):
    from vcls_lite.images import load_rgb
    from vcls_lite.predict import load_classifier
    clf = load_classifier(tiny_run)
    f = sorted((tiny_data/'validation'/'ant').iterdir())[0]
    p = clf.predict(f, topk=2)
    assert clf.predict(Image.open(f), topk=2) == p and clf.predict(load_rgb(f), topk=2) == p
    assert p['label'] in ('ant', 'bee', 'cat') and len(p['topk']) == 2


def test_bad_files_are_rows_not_a_crash(tiny_run, tiny_data, tmp_path, vcls):
    d = tmp_path/'imgs'; d.mkdir()
    for f in sorted((tiny_data/'validation'/'bee').iterdir()): (d/f.name).write_bytes(f.read_bytes())
    (d/'broken.png').write_bytes(b'not a png')
    (d/'gone.jpg').symlink_to(tmp_path/'nowhere.jpg')
    code, out, err = vcls('predict', d, '--checkpoint', tiny_run, '--csv', tmp_path/'p.csv', '--grid', tmp_path/'g.png')
    assert code == 1, err
    rows = list(csv.DictReader(open(tmp_path/'p.csv')))
    assert len(rows) == 4 and sum(bool(r['error']) for r in rows) == 2 and (tmp_path/'g.png').stat().st_size > 0
    assert '2 images predicted, 2 unreadable' in out
    code, out, err = vcls('predict', d, '--checkpoint', tiny_run, '--skip-bad-images')
    assert code == 0 and 'broken.png' not in out and '2 images predicted' in out


@pytest.mark.parametrize('args, words', [
    (lambda t, r, d: [d], ['pass either --checkpoint']),
    (lambda t, r, d: [d, '--checkpoint', r, '--int8', r], ['pass either --checkpoint']),
    (lambda t, r, d: [t/'nothing.jpg', '--checkpoint', r], ['nothing.jpg not found']),
    (lambda t, r, d: [str(t/'*.webp'), '--checkpoint', r], ['holds no image files']),
    (lambda t, r, d: [d, '--checkpoint', t], ['holds no checkpoint.pth']),
    (lambda t, r, d: [d, '--checkpoint', r, '--topk', '0'], ['--topk must be at least 1']),
    (lambda t, r, d: [d, '--checkpoint', r, '--csv', t], ['is a folder; pass a file name']),
    (lambda t, r, d: [d, '--checkpoint', r, '--grid', r/'log.csv'/'g.png'], ['is a file']),
    (lambda t, r, d: [d, '--checkpoint', r, '--json', '--csv', t/'x.csv'], ['not allowed with']),
    (lambda t, r, d: [d, '--int8', r/'checkpoint.pth'], ['is not an int8 model']),
])
def test_bad_predict_input_is_one_line(args, words, tiny_run, tiny_data, tmp_path, vcls):
    assert_one_line_error(*vcls('predict', *args(tmp_path, tiny_run, tiny_data/'validation')), *words)
