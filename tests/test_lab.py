"""`make lab` (issue 20): JupyterLab, installed into the project's venv, serves the notebooks. The test starts the
server as `make lab` does (on 127.0.0.1, a token, no browser), fetches a notebook through its REST API, and shuts it
down through the API too."""
import json, secrets, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _get(url:str, token:str, method:str='GET'):
    req = urllib.request.Request(url, method=method, headers={'Authorization': f'token {token}'})
    with urllib.request.urlopen(req, timeout=10) as r: return r.status, r.read()


def test_make_lab_serves_the_notebooks():
    jupyter = Path(sys.executable).parent/'jupyter'
    assert jupyter.exists(), "JupyterLab is not installed in the venv: `make lab` (or the dev extras) installs it"
    assert 'lab:' in (ROOT/'Makefile').read_text() and '--notebook-dir=nbs' in (ROOT/'Makefile').read_text()
    port, token = _free_port(), secrets.token_hex(16)
    p = subprocess.Popen([str(jupyter), 'lab', '--notebook-dir', str(ROOT/'nbs'), '--no-browser', '--ip', '127.0.0.1',
                          '--port', str(port), f'--IdentityProvider.token={token}', '--allow-root'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):   # up to a minute on a loaded host
            try:
                if _get(f'{base}/api/status', token)[0] == 200: break
            except OSError: time.sleep(0.5)
        else: pytest.fail('JupyterLab did not answer within a minute')
        status, body = _get(f'{base}/api/contents/recipes/resnet.ipynb', token)
        nb = json.loads(body)
        assert status == 200 and nb['type'] == 'notebook' and nb['content']['cells'][0]['cell_type'] == 'markdown'
        assert _get(f'{base}/lab', token)[0] == 200                              # the JupyterLab page itself
        assert _get(f'{base}/api/shutdown', token, 'POST')[0] == 200
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None: p.kill(); p.wait()
