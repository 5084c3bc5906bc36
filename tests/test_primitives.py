"""Today's torchvision training primitives (issue 21, first part): the optimizers of `train.py --opt`, weight decay
per parameter group for normalization layers and biases, label smoothing and gradient clipping, from the command line
to the optimizer a run saves; a resume keeps them."""
import json

import pytest
import torch

from conftest import TINY, ok


def test_the_flags_reach_the_recipe_and_the_optimizer(tiny_data, tmp_path, vcls):
    flags = ['--opt', 'adamw', '--lr', '0.001', '--wd', '0.05', '--norm-weight-decay', '0', '--bias-weight-decay', '0',
             '--label-smoothing', '0.1', '--clip-grad-norm', '1']
    dry = json.loads(ok(vcls('train', *TINY, *flags, '--data-path', tiny_data, '--dry-run')))['recipe']
    assert (dry['optimizer'], dry['norm_weight_decay'], dry['label_smoothing'], dry['clip_grad_norm']) == \
        ('adamw', 0.0, 0.1, 1.0)
    ok(vcls('train', *TINY, *flags, '--data-path', tiny_data, '--output-dir', tmp_path/'r'))
    groups = torch.load(tmp_path/'r'/'checkpoint.pth', weights_only=True)['optimizer']['param_groups']
    assert sorted(g['weight_decay'] for g in groups) == [0.0, 0.05] and all('amsgrad' in g for g in groups)   # AdamW
    ok(vcls('train', '--resume', tmp_path/'r', '--epochs', '2'))   # the same groups again
    assert torch.load(tmp_path/'r'/'checkpoint.pth', weights_only=True)['epoch'] == 1


@pytest.mark.parametrize('opt, key', [('sgd_nesterov', 'nesterov'), ('rmsprop', 'alpha')])
def test_each_optimizer_trains(opt, key, tiny_data, tmp_path, vcls):
    ok(vcls('train', *TINY, '--opt', opt, '--lr', '0.01', '--data-path', tiny_data, '--output-dir', tmp_path/'r'))
    g = torch.load(tmp_path/'r'/'checkpoint.pth', weights_only=True)['optimizer']['param_groups'][0]
    assert g[key] == {'nesterov': True, 'alpha': 0.9}[key]


def test_deterministic_algorithms_for_the_run_only_and_cache_dataset_explained(tiny_data, tmp_path, vcls):
    code, out, err = vcls('train', *TINY, '--use-deterministic-algorithms', '--cache-dataset', '--data-path', tiny_data,
                          '--output-dir', tmp_path/'r')
    assert code == 0, err
    assert json.loads((tmp_path/'r'/'config.json').read_text())['run']['deterministic'] is True
    assert not torch.are_deterministic_algorithms_enabled()   # set for the run, then put back
    assert 'note: --cache-dataset' in err and 'image cache' in err
