"""The full-frame image cache (issue 21): a training split of mixed-size photos is cached as whole frames, and the
random crops drawn from it follow torchvision's `RandomResizedCrop` on the original files: the same distribution of
crop centres and areas, sides included (the square cache of before only saw the center square)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from conftest import ok

SIZES = [(640, 427), (427, 427), (300, 427), (480, 270), (200, 400), (500, 250)]   # (w, h): 3:2, 1:1, portrait,
                                                                                 # 16:9, 1:2 portrait, 2:1


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    "Crops of scikit-learn's two sample photos at six aspect ratios, as a train/validation class-folder tree."
    from sklearn.datasets import load_sample_images
    root = tmp_path_factory.mktemp('photos')
    for img, name in zip(load_sample_images().images, ('china', 'flower')):
        im = Image.fromarray(img)
        for split in ('train', 'validation'):
            (root/split/name).mkdir(parents=True)
            for j, (w, h) in enumerate(SIZES):
                r = w / h   # the largest box of this aspect ratio in the 640x427 photo, resized to (w, h)
                bw, bh = (640, round(640 / r)) if 640 / r <= 427 else (round(427 * r), 427)
                im.crop((0, 0, bw, bh)).resize((w, h)).save(root/split/name/f'{j}.jpg', quality=90)
    return root


def _stats(boxes, h, w):
    "Crop centres (y, x) as fractions of the image, and areas as fractions of it."
    t, l, bh, bw = boxes.double().unbind(1)
    return (t + bh / 2) / h, (l + bw / 2) / w, bh * bw / (h * w)


def test_frame_crops_follow_torchvisions_random_resized_crop(photos, tmp_path):
    from vcls_lite.cache import frame_cache, image_cache
    from vcls_lite.data import BatchCrop
    files = sorted((photos/'train').rglob('*.jpg'))
    images, frames, rows, bad = frame_cache(files, 64, folder=tmp_path/'c')
    assert frames is not None and not bad and images.shape[2:] == (96, 192)   # short side 1.5 x 64, up to 2:1
    crop, n, q = BatchCrop(32, rand_scale=(0.08, 1.0)), 4000, torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95])
    square = image_cache(files, 64, folder=tmp_path/'c')[0]
    for i, f in enumerate(files):
        W, H = Image.open(f).size
        h, w, turned = map(int, frames[i])
        short, long = sorted((W, H))   # short side at 96 (never enlarged), the long side as torchvision resizes it
        assert (h, w, turned) == (min(short, 96), int(min(short, 96) * long / short), H > W) or w == 2 * h
        torch.manual_seed(i)
        b = crop.frame_boxes(torch.tensor(frames[i]).repeat(n, 1))
        if turned: b = b[:, [1, 0, 3, 2]]   # back into the image's own orientation
        ours = _stats(b, *((w, h) if turned else (h, w)))
        tv = _stats(torch.tensor([T.RandomResizedCrop.get_params(torch.empty(3, H, W), [0.08, 1.0], [3 / 4, 4 / 3])
                                  for _ in range(n)]), H, W)
        for a, c in zip(ours, tv): assert torch.allclose(a.quantile(q.double()), c.quantile(q.double()), atol=0.03), f
        if max(W, H) / min(W, H) >= 1.5:   # the square cache never reaches the long side's ends
            side = 1 if W > H else 0
            sq = _stats(crop.boxes(n, 64, 64), 64, 64)[side] * (min(W, H) / max(W, H)) + \
                (1 - min(W, H) / max(W, H)) / 2
            assert sq.quantile(0.05) > tv[side].quantile(0.05) + 0.05, f
    assert square.shape[2:] == (64, 64)


def test_a_run_on_mixed_photos_trains_from_whole_frames(photos, tmp_path, vcls):
    ok(vcls('train', '--scale', 'smoke', '--crop', '32', '--resize', '36', '-b', '4', '--epochs', '1',
            '--data-path', photos, '--output-dir', tmp_path/'r'))
    cfg = json.loads((tmp_path/'r'/'config.json').read_text())
    assert cfg['data']['frames'] is True and cfg['data']['cache_mb']['train'] > cfg['data']['cache_mb']['valid']
