"""`vcls zoo` at smoke scale on two small recipes: the files, the table, resuming, one failure among successes, bad input."""
import json, shutil

import pytest

from vcls_lite.cli import capture

pytestmark = pytest.mark.slow   # trains, or starts processes: `make test` runs these, `make test-fast` does not

SMOKE = ['torchvision/resnet18', 'cambricon/shufflenet_v2_x0_5']
FAST = ['--scale', 'smoke', '--speed-size', '16', '--iters', '1']


@pytest.fixture(scope='module')
def zoo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('zoo')
    code, out, err = capture('zoo', '--models', *SMOKE, *FAST, '--output-dir', d)
    assert code == 0, err
    return d, out


def test_files_and_table(zoo_dir):
    d, out = zoo_dir
    assert sorted(p.name for p in d.glob('zoo.*')) == ['zoo.html', 'zoo.json', 'zoo.md', 'zoo.png']
    recs = json.loads((d/'zoo.json').read_text())['records']
    assert list(recs) == SMOKE and all(r['status'] == 'ok' for r in recs.values())
    r = recs['torchvision/resnet18']
    for k in ('top1', 'top5', 'params', 'gmacs', 'latency_ms', 'throughput', 'int8_top1', 'int8_speedup', 'train_images_per_sec',
              'train_wall_seconds'):
        assert r[k] > 0 or k in ('top1', 'int8_top1'), k
    assert r['published']['torchvision_top1'] == 69.758 and r['speed_size'] == 16
    assert 'top-1 %' in out and 'cambricon/shufflenet_v2_x0_5' in out and 'published top-1 %' in (d/'zoo.md').read_text()
    assert '<table' in (d/'zoo.html').read_text()


def test_measured_models_are_not_redone(zoo_dir):
    d, _ = zoo_dir
    before = (d/'zoo.json').read_text()
    code, out, err = capture('zoo', '--models', *SMOKE, *FAST, '--output-dir', d)
    assert code == 0, err
    assert out.count('(measured before)') == 2
    assert json.loads((d/'zoo.json').read_text())['records'] == json.loads(before)['records']


def test_one_failure_does_not_stop_the_rest(zoo_dir, tmp_path, monkeypatch):
    "A model whose measuring fails is recorded with its error; the others are measured (here from the finished runs)."
    import vcls_lite.zoo as vz
    d = tmp_path/'z'
    shutil.copytree(zoo_dir[0], d)
    (d/'zoo.json').unlink()
    real = vz.model_complexity
    def flaky(model, *a, **kw):
        if model == 'resnet18': raise RuntimeError('simulated crash')
        return real(model, *a, **kw)
    monkeypatch.setattr(vz, 'model_complexity', flaky)
    code, out, err = capture('zoo', '--models', *SMOKE, *FAST, '--output-dir', d)
    assert code == 1 and err.strip() == 'vcls: 1 of 2 models failed: torchvision/resnet18', err
    recs = json.loads((d/'zoo.json').read_text())['records']
    assert recs['torchvision/resnet18'] == {**recs['torchvision/resnet18'], 'status': 'failed', 'error': 'RuntimeError: simulated crash'}
    assert recs['cambricon/shufflenet_v2_x0_5']['status'] == 'ok'
    assert 'failed: RuntimeError: simulated crash' in (d/'zoo.md').read_text()
    monkeypatch.setattr(vz, 'model_complexity', real)   # the next call tries the failed model again
    code, out, err = capture('zoo', '--models', *SMOKE, *FAST, '--output-dir', d)
    assert code == 0 and out.count('(measured before)') == 1, err


@pytest.mark.parametrize('args, msg', [
    (['--models', 'resnet19'], "no zoo recipe is or trains 'resnet19' (did you mean resnet18"),
    (['--models', 'resnet18', '--data-path', '/nonexistent'], '--data-path /nonexistent is not a folder'),
    (['--iters', '0'], '--iters must be at least 1, got 0'),
    (['--speed-size', '2'], '--speed-size must be at least 8 px, got 2'),
    (['--backend', 'nope'], 'nope'),
])
def test_bad_input(tmp_path, args, msg):
    code, out, err = capture('zoo', '--scale', 'smoke', '--output-dir', tmp_path/'z', *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and 'Traceback' not in err, err
    assert msg in err, err
    assert not (tmp_path/'z').exists()


def test_damaged_zoo_file_is_kept(tmp_path):
    (tmp_path/'zoo.json').write_text('{not json')
    code, out, err = capture('zoo', '--scale', 'smoke', '--models', 'resnet18', '--output-dir', tmp_path)
    assert code == 2 and 'is not valid JSON' in err and 'move it away' in err, err
    assert (tmp_path/'zoo.json').read_text() == '{not json'


def test_other_settings_are_measured_again_never_mixed(zoo_dir, tmp_path):
    "Another speed size is measured anew from the same trained runs; another scale refuses the runs of the first."
    d = tmp_path/'z'
    shutil.copytree(zoo_dir[0], d)
    code, out, err = capture('zoo', '--models', 'torchvision/resnet18', '--scale', 'smoke', '--speed-size', '24', '--iters', '1',
                             '--output-dir', d)
    assert code == 0, err
    rec = json.loads((d/'zoo.json').read_text())['records']['torchvision/resnet18']
    assert rec['speed_size'] == 24 and (d/'torchvision__resnet18'/'int8_onednn_24px_1iters'/'report.json').exists()
    code, out, err = capture('zoo', '--models', 'torchvision/resnet18', '--scale', 'demo', '--output-dir', d)
    rec = json.loads((d/'zoo.json').read_text())['records']['torchvision/resnet18']
    assert code == 1 and rec['status'] == 'failed' and 'holds a run at smoke scale on the sample' in rec['error'], rec


def test_a_run_of_other_recipe_settings_is_not_reused(zoo_dir, tmp_path):
    "A run folder trained under another demo rule (here: another rate) is refused by name, and left as it is."
    d = tmp_path/'z'
    shutil.copytree(zoo_dir[0], d)
    f = d/'torchvision__resnet18'/'config.json'
    cfg = json.loads(f.read_text()); cfg['recipe']['lr'] *= 2; f.write_text(json.dumps(cfg))
    zoo = json.loads((d/'zoo.json').read_text()); zoo['records'].clear(); (d/'zoo.json').write_text(json.dumps(zoo))
    code, out, err = capture('zoo', '--models', 'torchvision/resnet18', *FAST, '--output-dir', d)
    rec = json.loads((d/'zoo.json').read_text())['records']['torchvision/resnet18']
    assert code == 1 and rec['status'] == 'failed' and 'holds a run of other torchvision/resnet18 settings (lr: ' \
        in rec['error'], rec
    assert json.loads(f.read_text()) == cfg
