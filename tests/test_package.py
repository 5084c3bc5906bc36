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


def test_modules_import_only_what_stands_above_them():
    "The README's module map is the import order: a module imports only the modules listed above it."
    import re
    text = (ROOT/'README.md').read_text().split('### Module map', 1)[1].split('\n## ', 1)[0]
    order = re.findall(r'^\| `(\w+)` \| `\w+` \|', text, re.M)
    files = sorted(p.stem for p in (ROOT/'vcls_lite').glob('*.py') if not p.stem.startswith('_'))
    assert sorted(order) == files, set(order) ^ set(files)
    pat = re.compile(r'^\s*(?:from (?:\.|vcls_lite\.)(\w+) import|from vcls_lite import (\w+)|import vcls_lite\.(\w+))', re.M)
    for i, mod in enumerate(order):
        used = {a or b or c for a, b, c in pat.findall((ROOT/'vcls_lite'/f'{mod}.py').read_text())}
        assert used <= set(order[:i]), f"{mod} imports {sorted(used - set(order[:i]))}, which stand below it in the map"


def test_modules_are_short_with_short_lines():
    """A generated module stays under 350 lines, and its lines under 120 characters, except the two lines nbdev writes
    itself: the module docstring (the notebook's `>` subtitle) and the first line of `__all__`."""
    long = []
    for p in sorted((ROOT/'vcls_lite').glob('*.py')):
        if p.stem.startswith('_'): continue
        lines = p.read_text().splitlines()
        assert len(lines) <= 350, f"{p.name} has {len(lines)} lines; split an idea into a module of its own"
        long += [f"{p.name}:{i}" for i, l in enumerate(lines, 1)
                 if len(l) > 120 and i > 1 and not l.startswith('__all__ = [')]
    assert not long, f"lines over 120 characters (wrap them in the notebooks): {long}"


def test_a_reader_that_stops_early_is_no_error():
    "`vcls recipes | head -1`: once the reader closes the pipe, vcls exits quietly (no BrokenPipeError traceback)."
    vcls = Path(sys.executable).parent/'vcls'
    p = subprocess.Popen([str(vcls), 'recipes', 'show', 'torchvision/resnet18'], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, bufsize=0)
    p.stdout.close()   # before vcls has written anything: its first write meets a closed pipe
    err = p.stderr.read().decode()
    assert p.wait() == 0 and 'Traceback' not in err, err


def test_the_wheel_carries_the_license(tmp_path):
    "The wheel a user installs holds the LICENSE (Apache 2.0, as settings.ini says)."
    import zipfile
    p = subprocess.run([sys.executable, '-m', 'pip', 'wheel', str(ROOT), '--no-deps', '--no-build-isolation', '-q',
                        '-w', str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    wheel = next(tmp_path.glob('vcls_lite-*.whl'))
    names = zipfile.ZipFile(wheel).namelist()
    lic = [n for n in names if n.endswith('LICENSE')]
    assert lic and 'Apache License' in zipfile.ZipFile(wheel).read(lic[0]).decode()
