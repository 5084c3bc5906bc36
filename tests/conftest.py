"Shared fixtures: a private cache, small datasets written in the real on-disk formats, and the CLI runner."
import os

import numpy as np
import pytest

os.environ.setdefault('MPLBACKEND', 'Agg')


@pytest.fixture(scope='session', autouse=True)
def private_cache(tmp_path_factory):
    "Keep the MNIST sample the tests write out of the user's cache."
    old = os.environ.get('VCLS_CACHE')
    os.environ['VCLS_CACHE'] = str(tmp_path_factory.mktemp('cache'))
    yield
    if old is None: os.environ.pop('VCLS_CACHE', None)
    else: os.environ['VCLS_CACHE'] = old


@pytest.fixture
def vcls():
    "Run the `vcls` command line in-process: `vcls('train', ...) -> (code, stdout, stderr)`."
    from vcls_lite.cli import capture
    return capture


def write_folder(root, n_train=12, n_valid=6):
    "A small ImageFolder tree at `root`: 3 classes of 40 px RGB PNGs, `train/` + `validation/`."
    from vcls_lite.sources import write_image_folder
    rng = np.random.default_rng(0)
    vocab = ['ant', 'bee', 'cat']
    write_image_folder(root, rng.integers(0, 256, (n_train, 40, 40, 3), dtype=np.uint8), [i % 3 for i in range(n_train)], vocab, 'train')
    write_image_folder(root, rng.integers(0, 256, (n_valid, 40, 40, 3), dtype=np.uint8), [i % 3 for i in range(n_valid)], vocab, 'validation')
    return root


@pytest.fixture
def folder(tmp_path):
    "A small ImageFolder tree: 3 classes, 12 training and 6 validation 40 px RGB PNGs, `train/` + `validation/`."
    return write_folder(tmp_path/'data')


#: flags for a tiny, fast training run on `folder`
TINY = ['--scale', 'smoke', '--crop', '32', '--resize', '36', '-b', '4', '--epochs', '1']
