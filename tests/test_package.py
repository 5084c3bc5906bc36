"The package as a user installs it: the console script, and a README in sync with its notebook."
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_console_script_help():
    vcls = Path(sys.executable).parent/'vcls'
    p = subprocess.run([str(vcls), 'train', '--help'], capture_output=True, text=True)
    assert p.returncode == 0 and '--lr-step-size' in p.stdout and '--batch_size' in p.stdout


def test_readme_matches_index_notebook():
    sys.path.insert(0, str(ROOT/'tools'))
    from readme import render
    assert (ROOT/'README.md').read_text() == render(ROOT/'nbs'/'index.ipynb'), "run `make readme` and commit README.md"
