"""Starting from published weights (issue 20): torchvision's weights by name through its weights API, read offline from
`$TORCH_HOME/hub/checkpoints/`, a new classifier for other classes, the weights' preprocessing, and fastai-style
fine-tuning (the head alone first, then the body at a lower rate). No network here: the weights file is a state dict
of the right architecture written under torchvision's file name, and a download is made to fail as it does offline."""
import json, shutil

import pytest
import torch

from conftest import TINY, ok
from test_bad_input import assert_one_line_error


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    "A private TORCH_HOME holding resnet18's IMAGENET1K_V1 file (random weights); downloads fail as offline."
    import torch.hub, torchvision
    home = tmp_path/'torch_home'
    (home/'hub'/'checkpoints').mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), home/'hub'/'checkpoints'/'resnet18-f37072fd.pth')
    monkeypatch.setenv('TORCH_HOME', str(home))
    def offline(url, dst, *a, **k): raise OSError('<urlopen error [Errno -3] Temporary failure in name resolution>')
    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    return home


def test_weights_by_name_offline_with_a_new_head(torch_home, tiny_data, tmp_path, vcls):
    code, out, err = vcls('train', *TINY, '--data-path', tiny_data, '--output-dir', tmp_path/'r', '--lr', '1e-9',
                          '--wd', '0', '--pretrained')
    assert code == 0, err
    assert 'a new classifier for the 3 classes here' in err
    cfg = json.loads((tmp_path/'r'/'config.json').read_text())
    assert cfg['run']['weights'] == 'DEFAULT' and cfg['recipe']['std'] == [0.229, 0.224, 0.225]
    assert cfg['recipe']['crop'] == 32   # the size the run asked for (--crop) wins over the weights' 224
    start = torch.load(torch_home/'hub'/'checkpoints'/'resnet18-f37072fd.pth', weights_only=True)
    got = torch.load(tmp_path/'r'/'checkpoint.pth', weights_only=True)['model']
    assert torch.allclose(got['layer1.0.conv1.weight'], start['layer1.0.conv1.weight'], atol=1e-6)
    assert got['fc.weight'].shape == (3, 512)


def test_the_weights_preprocessing_at_full_scale(torch_home, vcls):
    res = json.loads(ok(vcls('train', '--recipe', 'edgeailite/resnet50_x1', '--data-path', '.', '--weights',
                             'IMAGENET1K_V2', '--dry-run')))
    assert res['run']['weights'] == 'IMAGENET1K_V2'   # resolved at train time: the recipe is the registered one here
    from vcls_lite.pretrained import tv_weights, weights_recipe
    from vcls_lite.recipes import get_recipe
    r = get_recipe('edgeailite/resnet50_x1')
    r2, note = weights_recipe(r, tv_weights(r.model, 'IMAGENET1K_V2'), r)
    assert (r2.resize, r2.crop, r2.channel_reverse, r2.image_mean) == (232, 224, False, None) and 'resize 232' in note


def test_missing_weights_file_offline_is_one_line(torch_home, tiny_data, tmp_path, vcls):
    (torch_home/'hub'/'checkpoints'/'resnet18-f37072fd.pth').unlink()
    assert_one_line_error(*vcls('train', *TINY, '--data-path', tiny_data, '--output-dir', tmp_path/'r', '--weights',
                                'IMAGENET1K_V1'),
                          "torch_home/hub/checkpoints/resnet18-f37072fd.pth and cannot be downloaded",
                          'download https://download.pytorch.org/models/resnet18-f37072fd.pth', 'TORCH_HOME')
    assert not (tmp_path/'r').exists()


def test_fine_tuning_freezes_the_body_then_trains_it(tiny_run, tiny_data, tmp_path, vcls):
    d = tmp_path/'two'   # other classes: two of the three
    for split in ('train', 'validation'):
        for c in ('ant', 'bee'): shutil.copytree(tiny_data/split/c, d/split/c)
    code, out, err = vcls('train', *TINY, '--epochs', '2', '--data-path', d, '--output-dir', tmp_path/'r', '--weights',
                          tiny_run/'checkpoint.pth', '--freeze-epochs', '1', '--body-lr', '0.1', '--save-ckp')
    assert code == 0 and 'a new classifier for the 2 classes here' in err, err
    start = torch.load(tiny_run/'checkpoint.pth', weights_only=True)['model']
    e0, e1 = (torch.load(tmp_path/'r'/f'checkpoint_{e:03d}.pth', weights_only=True) for e in (0, 1))
    k = 'layer1.0.conv1.weight'
    assert torch.equal(e0['model'][k], start[k]) and not torch.equal(e1['model'][k], start[k])   # frozen, then trained
    assert not torch.equal(e0['model']['fc.weight'], e1['model']['fc.weight'])
    lrs = [g['lr'] for g in e1['optimizer']['param_groups']]
    assert len(lrs) == 2 and lrs[0] == pytest.approx(0.1 * lrs[1])   # the body at a tenth of the head's rate


@pytest.mark.parametrize('args, words', [
    (['--model', 'mobilenetv1_x1', '--pretrained'], ['publishes no weights for mobilenetv1_x1']),
    (['--weights', 'IMAGENET1K_V9'], ["resnet18 has no weights IMAGENET1K_V9; torchvision's are IMAGENET1K_V1, DEFAULT"]),
    (['--weights', 'ResNet50_Weights.DEFAULT'], ['are not weights of resnet18']),
    (['--freeze-epochs', '1'], ['--freeze-epochs must be from 0 to --epochs - 1 (0), got 1']),
    (['--body-lr', '0'], ["--body-lr is the body's rate as a fraction of the head's, in (0, 1], got 0.0"]),
])
def test_bad_weights_input_is_one_line(args, words, torch_home, tiny_data, tmp_path, vcls):
    assert_one_line_error(*vcls('train', *TINY, '--data-path', tiny_data, '--output-dir', tmp_path/'r', *args), *words)
    assert not (tmp_path/'r').exists()


def test_qat_wants_a_checkpoint_not_a_name(torch_home, vcls, tmp_path):
    assert_one_line_error(*vcls('train', '--recipe', 'torchvision/qat_mobilenet_v2', '--scale', 'smoke',
                                '--weights', 'DEFAULT', '--output-dir', tmp_path/'r'), 'not weights by name')
