"""Execute notebooks at demo scale and save their outputs, kept light enough to commit.

    python tools/run_notebook.py nbs/recipes/resnet.ipynb [more.ipynb ...]
    python tools/run_notebook.py --upto 7 nbs/recipes/resnet.ipynb   # only cells 0-7 (the cheap ones); the rest keep theirs

`nbdev_test` runs the notebooks at smoke scale and saves nothing; the committed outputs (the plots a reader sees
on GitHub or in the docs) come from this script, which runs them as a person would in Jupyter (no `IN_TEST`).
Progress bars printed to a console are reduced to their final state, and long text outputs to their last lines.
"""
import os
import re
import sys
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

MAX_LINES = 40
_NO_EVAL = re.compile(r'^\s*#\|\s*eval:\s*false', re.MULTILINE)   # cells nbdev_test skips are skipped here too
_BAR = re.compile(r'^\s*(Epoch \d+/\d+ :)?\s*(\|[-█ ]*\|.*)?\s*$')


def clean_text(text: str) -> str:
    "What a terminal would show at the end: keep the text after the last carriage return of each line, drop bars."
    lines = [l.split('\r')[-1].replace('█', '').rstrip() for l in text.split('\n')]
    lines = [l for l in lines if l.strip() and not _BAR.match(l)]
    if len(lines) > MAX_LINES: lines = [f'... ({len(lines) - MAX_LINES} lines cut)'] + lines[-MAX_LINES:]
    return '\n'.join(lines) + ('\n' if lines else '')


def clean(nb):
    for cell in nb.cells:
        for o in cell.get('outputs', []):
            if o.get('output_type') == 'stream': o['text'] = clean_text(''.join(o['text']))
        if 'outputs' in cell: cell['outputs'] = [o for o in cell['outputs'] if o.get('output_type') != 'stream' or o['text']]
    return nb


def run(path: Path, upto: int | None = None):
    """Execute the notebook at `path` in its own folder, as Jupyter would, and save its cleaned outputs. With `upto`,
    only cells 0 to `upto` run (a change to cheap early cells need not retrain); later cells keep their outputs."""
    nb, cwd = read_nb(path), os.getcwd()
    skip = lambda c: bool(_NO_EVAL.search(c.source)) or (upto is not None and c.idx_ > upto)
    os.chdir(path.parent)
    try: CaptureShell(path, mpl_format='png').run_all(nb, exc_stop=True, preproc=skip)
    finally: os.chdir(cwd)
    write_nb(clean(nb), path)
    print('ran', path, file=sys.stderr)


if __name__ == '__main__':
    os.environ.pop('IN_TEST', None)
    args, upto = sys.argv[1:], None
    if args[:1] == ['--upto']: upto, args = int(args[1]), args[2:]
    for p in [Path(a).resolve() for a in args]: run(p, upto)
