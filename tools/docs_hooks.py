"""mkdocs hooks for the notebook pages (loaded by the config `tools/docs.py` writes).

mkdocs-jupyter renders a notebook's HTML with nbconvert but computes its table of contents separately, from a
markdown conversion; the two slug a heading differently when it holds code (the one on `vcls train`, say), so
the contents linked to ids that did not exist. Here the contents are rebuilt from the rendered headings themselves,
and every `show_doc` heading gets the id nbdev's links use (the documented name, lower-cased: `#vclslearner.fit`).
"""
import html, json, re
from pathlib import Path

from mkdocs.structure.toc import get_toc

_re_head = re.compile(r'<h([1-6]) id="([^"]*)">(.*?)</h\1>', re.S)
_API = {}


def on_config(config):
    f = Path(config['docs_dir']).parent/'api_names.json'
    _API.update(json.loads(f.read_text()) if f.exists() else {})


def _text(inner: str) -> str: return html.unescape(re.sub(r'<[^>]+>', '', inner)).replace('¶', '').strip()


def on_page_content(content, page, config, files):
    if not page.file.src_uri.endswith('.ipynb'): return content
    api = set(_API.get(page.file.src_uri, ()))
    tokens, used = [], set()

    def fix(m):
        level, hid, inner = int(m.group(1)), m.group(2), m.group(3)
        name = _text(inner)
        new = name.lower() if name in api else hid
        while new in used: new += '_'
        used.add(new)
        tokens.append({'level': level, 'id': new, 'name': html.escape(name), 'children': []})
        inner = inner.replace(f'href="#{hid}"', f'href="#{new}"')
        return f'<h{level} id="{new}">{inner}</h{level}>'

    content = _re_head.sub(fix, content)
    nested, stack = [], []
    for t in tokens:
        if t['level'] == 1: continue                 # the page title
        while stack and stack[-1]['level'] >= t['level']: stack.pop()
        (stack[-1]['children'] if stack else nested).append(t)
        stack.append(t)
    page.toc = get_toc(nested)
    return content
