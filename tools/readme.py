"""Write README.md from nbs/index.ipynb.

nbdev's `nbdev_readme` renders the README with Quarto, which this project does not use; the README only needs the
notebook's markdown and code, so this does it directly. `make readme` runs it; a test checks the two agree.
"""
import json
import sys
from pathlib import Path

SKIP = ('#| hide', '#|hide', '#| default_exp', '#|default_exp')


def _text(outputs) -> str:
    "The plain-text outputs of a code cell."
    res = []
    for o in outputs:
        if o.get('output_type') == 'stream': res.append(''.join(o['text']))
        elif 'text/plain' in o.get('data', {}): res.append(''.join(o['data']['text/plain']))
    return ''.join(res).rstrip()


def render(nb_path) -> str:
    "The README text for the notebook at `nb_path`."
    parts = []
    for cell in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(cell['source']).strip()
        if not src or src.startswith(SKIP): continue
        if cell['cell_type'] == 'markdown': parts.append(src)
        elif cell['cell_type'] == 'code':
            parts.append(f'```python\n{src}\n```')
            if out := _text(cell.get('outputs', [])): parts.append(f'```\n{out}\n```')
    return '\n\n'.join(parts) + '\n'


if __name__ == '__main__':
    root = Path(__file__).resolve().parents[1]
    (root/'README.md').write_text(render(root/'nbs'/'index.ipynb'))
    print('wrote', root/'README.md', file=sys.stderr)
