"""Shared fixtures: a private cache, small datasets written in the real on-disk formats, the CLI runner, and the
trained runs the whole session shares.

Training is what costs here, so the runs several test files read are made once per session: `sample_run` (the
default recipe at smoke scale on the built-in sample: the run `vcls train --scale smoke` makes) and `tiny_run` (a
1-epoch `TINY` run on `tiny_data`). They are read-only: a test that needs to change one copies it first, and each
fixture checks at the end of the session that no file of its folder was added, removed or rewritten."""
import hashlib, os, shutil
from pathlib import Path

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


def ok(res) -> str:
    "The stdout of a successful `vcls(...)` call; fails with its stderr otherwise."
    code, out, err = res
    assert code == 0, err
    return out


def digest(d) -> dict:
    "A hash of the contents, and the modification time, of every file under `d`."
    return {p: (hashlib.sha1(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in sorted(Path(d).rglob('*')) if p.is_file()}


def _read_only(d):
    "Yield `d`; at the end of the session, fail if any file under it was added, removed or rewritten."
    before = digest(d)
    yield d
    assert digest(d) == before, f"a test changed the shared folder {d}: copy it (copy_run) before changing it"


def copy_run(run, dst) -> Path:
    "A private copy of a shared run folder (a resume writes into the folder of the checkpoint it continues)."
    return Path(shutil.copytree(run, dst))


@pytest.fixture(scope='session')
def sample_run(tmp_path_factory):
    "One smoke-scale run of the default recipe (resnet18, 2 epochs) on the built-in sample; read-only."
    from vcls_lite.cli import capture
    run = tmp_path_factory.mktemp('shared')/'sample'
    ok(capture('train', '--scale', 'smoke', '--output-dir', run))
    yield from _read_only(run)


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    "The `folder` layout (3 classes, 12 training and 6 validation images), shared; read-only."
    yield from _read_only(write_folder(tmp_path_factory.mktemp('shared')/'data'))


@pytest.fixture(scope='session')
def tiny_run(tiny_data, tmp_path_factory):
    "A `TINY` run (resnet18, 32 px, 1 epoch) on `tiny_data`; read-only."
    from vcls_lite.cli import capture
    run = tmp_path_factory.mktemp('shared')/'tiny'
    ok(capture('train', *TINY, '--data-path', tiny_data, '--output-dir', run))
    yield from _read_only(run)
