"""Build the docs site into `_docs/` from the notebooks, without Quarto.

nbdev renders its site with Quarto, which cannot be installed here; this does the same job with packages from PyPI:

1. nbdev's own processing, `nbdev.serve.proc_nbs()` (the step `nbdev_preview` runs before Quarto), writes `_proc/`:
   `show_doc` cells added after exported cells and run, export and `#| hide` cells emptied, backticked names linked.
   It is called from Python: the `nbdev_proc_nbs` command would try to install Quarto first.
2. `stage` turns `_proc/` into plain notebooks: the Quarto-only parts (front matter, `#|` cell options, `{...}` link
   attributes, links to the Quarto site's URLs) become their markdown/HTML equivalents, and every API heading gets
   the anchor nbdev's links point to.
3. Three generated pages: the recipe table, the complexity table and the benchmark tables (the latter from the
   committed outputs of `07a_bench_train` and `07b_bench_infer`).
4. mkdocs with the material theme and mkdocs-jupyter writes the static site. No notebook is executed: pages show the
   committed outputs.

`make docs` runs this; `python tools/docs.py --out DIR` builds elsewhere (the browser test does). The staged pages
and the mkdocs config live in a temporary folder; `_proc/` is nbdev's cache.
"""
from __future__ import annotations
import argparse, json, os, posixpath, re, shutil, subprocess, sys, time
from configparser import ConfigParser
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NO_MATHJAX = 'data:text/javascript,'   # the notebooks have no maths; a CDN script would fail offline (and is a request)
SECTIONS = (('Library', lambda p: re.match(r'\d\d[a-z]?_', p.name)), ('Recipes', lambda p: p.parent.name == 'recipes'),
            ('Guides', lambda p: p.parent.name == 'guides'))


def _settings() -> dict:
    cp = ConfigParser(); cp.read(ROOT/'settings.ini')
    return dict(cp['DEFAULT'])


def proc(force: bool = False) -> Path:
    "Run nbdev's notebook processing into `_proc/` (cached per notebook by nbdev)."
    os.chdir(ROOT)
    from nbdev.serve import proc_nbs
    try: return Path(proc_nbs(n_workers=min(2, os.cpu_count() or 1), force=force))
    except Exception as e:   # nbdev runs a module notebook's export cells, its cells with imports and its show_doc cells
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.exit(f"docs: nbdev's processing failed: {first} (it runs every cell that imports something; "
                 "give such a cell's imports a cell of their own)")


# --- Quarto-only syntax to markdown ---------------------------------------------------------------------------------
_re_dir = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
_re_attr_link = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)\{([^}]*)\}')
_re_attr = re.compile(r'([\w-]+)="([^"]*)"')
_re_api_head = re.compile(r'^(#{2,4}) (\S+)\s*$', re.M)


def directives(src: str) -> tuple[dict, str]:
    "Quarto's `#| key: value` cell options at the top of a code cell, and the source without them."
    lines, opts = src.splitlines(), {}
    while lines and (m := _re_dir.match(lines[0])):
        opts[m.group(1)] = m.group(2).strip('"\'') or True
        lines.pop(0)
    return opts, '\n'.join(lines).strip('\n')


def attr_links(md: str) -> str:
    "Pandoc's `[text](url){target=... style=...}` as an HTML link with those attributes."
    def sub(m):
        attrs = ''.join(f' {k}="{v}"' for k, v in _re_attr.findall(m.group(3)))
        return f'<a href="{m.group(2)}"{attrs}>{m.group(1)}</a>'
    return _re_attr_link.sub(sub, md)


def api_names(md: str, names: set) -> None:
    "Collect the names `show_doc` headings document (their anchors are the lower-cased names, as in nbdev's links)."
    names.update(m.group(2) for m in _re_api_head.finditer(md))


def front_matter(nb: dict) -> dict:
    "The YAML front matter nbdev made from the notebook's `# Title` and `> subtitle` (title, description, output-file)."
    c = nb['cells'][0] if nb['cells'] else {}
    src = ''.join(c.get('source', ''))
    return (yaml.safe_load(src.strip().strip('-')) or {}) if c.get('cell_type') == 'raw' and src.startswith('---') else {}


def stage_nb(nb: dict, api: set) -> dict:
    "One processed notebook as a plain notebook for mkdocs-jupyter; adds the names its API entries document to `api`."
    cells, fm = [], front_matter(nb)
    for i, c in enumerate(nb['cells']):
        if 'source' not in c: continue                        # emptied by nbdev: export, hide, default_exp
        src = ''.join(c['source'])
        if i == 0 and fm:                                     # front matter: the page's title and subtitle
            head = f"# {fm.get('title', '')}" + (f"\n\n> {fm['description']}" if fm.get('description') else '')
            c = {'cell_type': 'markdown', 'metadata': {}, 'source': head}
        elif c['cell_type'] == 'markdown':
            if src.startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            c = {**c, 'source': attr_links(src)}
        elif c['cell_type'] == 'code':
            opts, src = directives(src)
            if str(opts.get('include', '')).lower() == 'false': continue
            tags = list(c.get('metadata', {}).get('tags', []))
            if str(opts.get('echo', '')).lower() == 'false' or not src: tags.append('hide-input')
            outputs = [] if str(opts.get('output', '')).lower() == 'false' else c.get('outputs', [])
            for o in outputs:
                if 'text/markdown' in o.get('data', {}):
                    md = ''.join(o['data']['text/markdown'])
                    o['data']['text/markdown'] = attr_links(md)
                    if 'show_doc' in src: api_names(md, api)
            if not src and not outputs: continue
            c = {**c, 'source': src, 'outputs': outputs, 'metadata': {**c.get('metadata', {}), 'tags': tags}}
        cells.append(c)
    return {**nb, 'cells': cells}


def page_path(rel: Path, fm_out: str | None) -> str:
    "Where a notebook's page lives in the site: Quarto's name (`04_learner` -> `learner`), in the notebook's folder."
    name = Path(fm_out).stem if fm_out else re.sub(r'^\d+[a-zA-Z0-9]*_', '', rel.stem)
    return (rel.parent/f'{name}.ipynb').as_posix()


def relink(text: str, page: str, base: str, pages: set, api: dict) -> str:
    "Links to the Quarto site's URLs (nbdev's doc links) as links relative to `page`, to anchors that exist."
    def sub(m):
        target = m.group(1) or 'index.html'
        frag = m.group(2) or ''
        src = target[:-5] + '.ipynb'
        if src not in pages: return m.group(0)
        a = frag[1:]
        known = {n.lower() for n in api.get(src, ())}
        while a and a not in known:                   # `Class.method` without its own doc: the class
            a = a.rpartition('.')[0]
        rel = posixpath.relpath(target, posixpath.dirname(page) or '.')
        return rel + (f'#{a}' if a else '')
    return re.sub(re.escape(base) + r'/?([\w/.-]+\.html)?(#[\w.-]+)?', sub, text)


def stage(proc_dir: Path, dst: Path) -> list[tuple[str, str, str]]:
    "Write the site's notebooks into `dst`; returns (section, title, page) in the numbering's order."
    cfg = _settings()
    base = cfg['doc_host'].rstrip('/') + cfg['doc_baseurl'].rstrip('/')
    nbs_dir = ROOT/cfg.get('nbs_path', 'nbs')
    nbs = sorted(p for p in proc_dir.rglob('*.ipynb')   # nbdev's cache keeps notebooks since deleted: skip those
                 if '.ipynb_checkpoints' not in p.parts and (nbs_dir/p.relative_to(proc_dir)).exists())
    staged, api, nav = {}, {}, []
    for p in nbs:
        nb, rel = json.loads(p.read_text()), p.relative_to(proc_dir)
        fm = front_matter(nb)
        page = page_path(rel, fm.get('output-file'))
        api[page] = set()
        staged[page] = stage_nb(nb, api[page])
        section = next((s for s, test in SECTIONS if test(rel)), 'Home')
        num = re.match(r'(\d+[a-z]?)_', p.name)
        title = f"{num.group(1)} {fm.get('title', p.stem)}" if num else fm.get('title', p.stem)
        nav.append((section, 'Home' if page == 'index.ipynb' else title, page, rel.as_posix()))
    pages = set(staged)
    for page, nb in staged.items():
        for c in nb['cells']:
            if c['cell_type'] == 'markdown': c['source'] = relink(c['source'], page, base, pages, api)
            for o in c.get('outputs', []):
                if 'text/markdown' in o.get('data', {}):
                    o['data']['text/markdown'] = relink(o['data']['text/markdown'], page, base, pages, api)
        out = dst/page
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(nb, indent=1, ensure_ascii=False))
    (dst.parent/'api_names.json').write_text(json.dumps({k: sorted(v) for k, v in api.items()}, indent=1))   # for docs_hooks
    order = {'Home': 0, 'Library': 1, 'Recipes': 2, 'Guides': 3}
    return [t[:3] for t in sorted(nav, key=lambda t: (order[t[0]], t[3]))]   # by notebook name: 00_core first


# --- generated pages --------------------------------------------------------------------------------------------------
def md_table(header, rows) -> str:
    esc = lambda v: str('' if v is None else v).replace('|', '\\|')
    assert all(len(r) == len(header) for r in rows), f"a row does not fit the header {header}"
    return '\n'.join(['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)] +
                     ['| ' + ' | '.join(esc(v) for v in r) + ' |' for r in rows]) + '\n'


def recipes_page() -> str:
    from vcls_lite.recipe_tables import TABLE_FIELDS
    from vcls_lite.recipes import RECIPES, SEED_SOURCES
    fields = [f for f in TABLE_FIELDS if f != 'name']
    rows = [[r.name, *(r.flat()[TABLE_FIELDS[f]] for f in fields), r.source_of('lr')] for r in RECIPES.values()]
    seeds = '\n'.join(f'- `{k}`: {v}' for k, v in SEED_SOURCES.items())
    return (f"# Recipe table\n\nAll {len(RECIPES)} registered recipes at `full` scale, as `vcls recipes` lists them; "
            "`vcls recipes show NAME` gives every field with its source. The last column is where the learning rate "
            f"comes from.\n\n{md_table(['recipe', *fields, 'lr source'], rows)}\nSources:\n\n{seeds}\n")


def complexity_page() -> str:
    from vcls_lite.recipe_tables import complexity_table
    fmt = lambda v, f: '-' if v is None else format(v, f)
    rows = [[r['recipe'], r['model'], r['crop'], r['classes'], f"{r['params'] / 1e6:.2f}", fmt(r['gmacs'], '.3f'),
             fmt(r['tv_gmacs'], '.3f'), fmt(r['ti_gmacs'], '.3f'), fmt(r['tv_top1'] or r['ti_top1'], '.2f')]
            for r in complexity_table()]
    return ("# Complexity table\n\nParameters and GMACs (multiply-accumulates, `torch.utils.flop_counter` / 2) of every "
            "recipe's model at its crop and class count, as `vcls complexity --recipes` prints them, beside the figures "
            "torchvision and edgeailite publish (only where the recipe's input matches theirs). Complexity does not tell "
            "speed: see the benchmark tables.\n\n" +
            md_table(['recipe', 'model', 'crop', 'classes', 'params (M)', 'GMACs', 'torchvision GMACs',
                      'edgeailite GigaMACs', 'published top-1 %'], rows))


BENCH_NBS = ('07a_bench_train', '07b_bench_infer')   # the benchmark notebooks whose outputs hold the tables


def bench_page(nb_paths) -> str:
    "The tables the benchmark notebooks printed when they were last run at demo scale, under their section headings."
    parts = ["# Benchmark tables\n\nThe tables below are the committed outputs of the benchmark notebooks "
             "([training](../bench_train.ipynb), [inference](../bench_infer.ipynb)), measured on the machine each one "
             "names; `vcls bench KIND` measures them on yours.\n"]
    for nb_path in nb_paths:
        head = None
        for c in json.loads(Path(nb_path).read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] == 'markdown' and (m := re.match(r'## (.+)', src)): head = m.group(1)
            text = ''.join(''.join(o.get('text', '')) for o in c.get('outputs', []) if o.get('output_type') == 'stream')
            if c['cell_type'] == 'code' and '---' in text and head:
                parts.append(f"## {head}\n\n```\n{text.strip()}\n```\n")
    return '\n'.join(parts)


CSS = """.md-typeset .jupyter-wrapper .jp-OutputArea-output pre { white-space: pre; }
.md-grid { max-width: 90rem; }
"""


def mkdocs_config(nav, docs_dir: Path, site_dir: Path) -> dict:
    cfg = _settings()
    sections = {}
    for section, title, page in nav: sections.setdefault(section, []).append({title: page})
    tables = [{'Recipe table': 'tables/recipes.md'}, {'Complexity table': 'tables/complexity.md'},
              {'Benchmark tables': 'tables/benchmarks.md'}]
    return {
        'site_name': cfg['lib_name'], 'site_description': cfg['description'], 'repo_url': cfg['git_url'],
        'docs_dir': str(docs_dir), 'site_dir': str(site_dir), 'use_directory_urls': False, 'strict': True,
        'theme': {'name': 'material', 'font': False, 'features': ['navigation.sections', 'navigation.top', 'search.highlight'],
                  'palette': {'primary': 'indigo'}},
        'extra_css': ['extra.css'], 'hooks': [str(ROOT/'tools'/'docs_hooks.py')],
        'markdown_extensions': ['tables', 'toc', 'fenced_code'],
        'plugins': [{'search': {}}, {'mkdocs-jupyter': {
            'execute': False, 'include_source': False, 'no_prompt': True, 'ignore_h1_titles': True, 'custom_mathjax_url': NO_MATHJAX,
            'remove_tag_config': {'remove_input_tags': ['hide-input']}, 'cache': False}}],
        'nav': [{'Home': 'index.ipynb'}, *({s: sections[s]} for s in ('Library', 'Recipes', 'Guides') if s in sections),
                {'Tables': tables}],
    }


def build(out: Path, force: bool = False, quiet: bool = False) -> Path:
    "Build the site into `out`, which is replaced only once the new site is complete."
    import tempfile
    t0 = time.perf_counter()
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    proc_dir = proc(force)
    say(f'nbdev processing: {time.perf_counter() - t0:.0f} s')
    with tempfile.TemporaryDirectory(prefix='vcls-docs-') as work:
        src = Path(work)/'docs'
        nav = stage(proc_dir, src)
        (src/'tables').mkdir()
        (src/'tables'/'recipes.md').write_text(recipes_page())
        (src/'tables'/'complexity.md').write_text(complexity_page())
        (src/'tables'/'benchmarks.md').write_text(bench_page([ROOT/'nbs'/f'{n}.ipynb' for n in BENCH_NBS]))
        (src/'extra.css').write_text(CSS)
        say(f'staged {len(nav)} notebooks and 3 tables: {time.perf_counter() - t0:.0f} s')
        conf, site = Path(work)/'mkdocs.yml', Path(work)/'site'
        conf.write_text(yaml.safe_dump(mkdocs_config(nav, src, site), sort_keys=False))
        r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '-q', '-f', str(conf)], capture_output=True, text=True)
        if r.returncode: sys.exit(f"docs: mkdocs build failed:\n{r.stderr.strip()}")
        shutil.rmtree(out, ignore_errors=True)
        shutil.move(site, out)
    say(f'site in {out}: {time.perf_counter() - t0:.0f} s')
    return out


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=ROOT/_settings().get('doc_path', '_docs'), help='site folder (default: _docs)')
    ap.add_argument('--force', action='store_true', help="redo nbdev's processing of every notebook")
    a = ap.parse_args()
    build(a.out.resolve(), a.force)
