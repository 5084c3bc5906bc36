"""The docs site, built by `tools/docs.py` and read in a real browser (headless Chromium driven by Selenium).

Every page is opened; the test fails on a broken internal link (a page or an anchor that does not exist), an image
that did not load, a console error, or an exported function or class of the library without its documentation on
its module's page. Search must find things. Screenshots of the home page and a recipe page go to
`build/docs-screenshots/`. Chromium comes from Debian's packages (`apt-get install chromium chromium-driver`);
where it is absent the test is skipped with that message. External requests are blocked in the browser, so a page
that needs the network fails as a console error instead of reaching out.
"""
import contextlib, functools, http.server, importlib, inspect, os, re, shutil, subprocess, sys, threading, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
DRIVER = shutil.which('chromedriver')
SHOTS = ROOT/'build'/'docs-screenshots'
NO_BROWSER = "headless Chromium not found: install it with `apt-get install chromium chromium-driver` (Debian) to test the docs site"
if not (CHROMIUM and DRIVER) and os.environ.get('VCLS_REQUIRE_BROWSER'):   # CI sets it: there the test must run
    pytest.fail(NO_BROWSER + " (VCLS_REQUIRE_BROWSER is set)", pytrace=False)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (CHROMIUM and DRIVER), reason=NO_BROWSER)]


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')/'_docs'
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'docs.py'), '--out', str(out)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@contextlib.contextmanager
def serve(folder):
    "A static file server for `folder` on the loopback interface; yields its base URL."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try: yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    finally: httpd.shutdown()


@pytest.fixture(scope='module')
def server(site):
    with serve(site) as url: yield url


@pytest.fixture(scope='module')
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1280,1000',
              '--disable-background-networking', '--disable-component-update', '--no-first-run',
              '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'):   # nothing leaves this machine
        opts.add_argument(a)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    d = webdriver.Chrome(options=opts, service=Service(DRIVER))
    d.set_page_load_timeout(60)
    yield d
    d.quit()


PAGE_JS = """
const bad = Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.currentSrc.slice(0, 120));
return {ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id).concat(Array.from(document.querySelectorAll('a[name]')).map(e => e.name)),
        links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
        bad_images: bad, n_images: document.images.length,
        text: document.querySelector('article') ? document.querySelector('article').innerText : document.body.innerText,
        title: document.title};
"""


def _open(browser, url):
    browser.get(url)
    for _ in range(100):
        if browser.execute_script('return document.readyState') == 'complete': break
        time.sleep(0.05)
    info = browser.execute_script(PAGE_JS)
    info['console'] = [e['message'] for e in browser.get_log('browser') if e['level'] == 'SEVERE']
    return info


def open_all(browser, site, server) -> dict:
    "Every page of `site`, opened in the browser: {path: what the page holds}."
    return {f.relative_to(site).as_posix(): _open(browser, server + f.relative_to(site).as_posix())
            for f in sorted(site.rglob('*.html'))}


def problems(pages, server) -> list[str]:
    "Console errors, images that did not load, and internal links to a page or an anchor that does not exist."
    res = [f"{p}: console: {m}" for p, i in pages.items() if p != '404.html' for m in i['console']]
    res += [f"{p}: image did not load: {s}" for p, i in pages.items() for s in i['bad_images']]
    for p, info in pages.items():
        for href in info['links']:
            if not href.startswith(server): continue
            u = urlsplit(href)
            target = unquote(u.path.lstrip('/')) or 'index.html'
            if target.endswith('/'): target += 'index.html'
            if target not in pages: res.append(f"{p}: link to missing page {target}")
            elif u.fragment and unquote(u.fragment) not in pages[target]['ids']:
                res.append(f"{p}: link to missing anchor {target}#{u.fragment}")
    return sorted(set(res))


@pytest.fixture(scope='module')
def pages(site, server, browser): return open_all(browser, site, server)


def _norm(s: str) -> str: return ' '.join(re.sub(r'[`*]', '', s).split())


def test_every_page_is_there(pages):
    want = {'index.html', 'learner.html', 'recipes/resnet.html', 'recipes/cambricon_zoo.html', 'guides/distributed.html',
            'tables/recipes.html', 'tables/complexity.html', 'tables/benchmarks.html'}
    want |= {f'{re.sub(r"^[0-9]+_", "", p.stem)}.html' for p in (ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')}
    want |= {f'recipes/{p.stem}.html' for p in (ROOT/'nbs'/'recipes').glob('*.ipynb')}
    assert not want - set(pages), f"pages missing from the site: {sorted(want - set(pages))}"
    assert 'vcls_lite' in pages['index.html']['text'] and 'Quick start' in pages['index.html']['text']
    assert 'cambricon/resnet18' in pages['tables/recipes.html']['text']
    assert re.search(r'torchvision/resnet50\s+resnet50\s+224\s+1000\s+25.56\s+4.089\s+4.089', pages['tables/complexity.html']['text'])
    assert 'Training-loop overhead' in pages['tables/benchmarks.html']['text'] and 'plain PyTorch loop' in pages['tables/benchmarks.html']['text']


def test_no_console_errors_missing_images_or_broken_links(pages, server):
    found = problems(pages, server)
    assert not found, f"{len(found)} problems:\n" + '\n'.join(found[:40])
    assert pages['recipes/resnet.html']['n_images'] >= 3, "the recipe page should show its committed plots"


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    "The checks above, on a small site with one of each fault: each is reported."
    (tmp_path/'sub').mkdir()
    head = '<link rel="icon" href="data:,">'   # no favicon request
    (tmp_path/'index.html').write_text(head + '<h1 id="top">ok</h1><a href="sub/a.html#here">fine</a> <a href="#top">fine</a>')
    (tmp_path/'sub'/'a.html').write_text(head +
        '<h2 id="here">a</h2><a href="../gone.html">page</a> <a href="../index.html#nowhere">anchor</a>'
        '<img src="missing.png"> <script>console.error("boom")</script> <a href="https://example.org/">external</a>')
    with serve(tmp_path) as url:
        found = problems(open_all(browser, tmp_path, url), url)
    assert len(found) == 5, found   # the missing image also logs a 404 in the console
    for want in ('link to missing page gone.html', 'link to missing anchor index.html#nowhere', 'image did not load',
                 'console: ' + url + 'sub/missing.png', 'boom'):
        assert any(want in f for f in found), (want, found)


def test_no_quarto_or_nbdev_syntax_left(pages):
    "Export and hidden cells are gone, and no Quarto-only markup shows as text."
    for p, info in pages.items():
        assert not re.search(r'(?m)^\s*#\|', info['text']), f"{p} shows a cell option line (#| ...)"
        for bad in ('nbdev_export()', '{target=', ':::', 'output-file:'):
            assert bad not in info['text'], f"{p} shows {bad!r}"


def _api(mod):
    "The exported functions and classes of `mod`, with their own docstrings (None where there is none)."
    for name in mod.__all__:
        o = getattr(mod, name)
        f = getattr(o, '__wrapped__', o)
        if inspect.isclass(o): yield name, o.__dict__.get('__doc__')
        elif inspect.isfunction(f): yield name, f.__doc__


def test_every_api_symbol_is_documented(pages):
    missing = []
    for nb in sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')):
        m = re.search(r'#\|\s*default_exp\s+([\w.]+)', nb.read_text())
        mod = importlib.import_module(f'vcls_lite.{m.group(1)}')
        page = pages[f"{re.sub(r'^[0-9]+_', '', nb.stem)}.html"]
        text = _norm(page['text'])
        for name, doc in _api(mod):
            if not doc: missing.append(f"{mod.__name__}.{name}: no docstring"); continue
            if name.lower() not in page['ids']: missing.append(f"{mod.__name__}.{name}: no API entry on its page")
            elif _norm(doc.split('\n\n')[0])[:60] not in text: missing.append(f"{mod.__name__}.{name}: its doc is not on its page")
    assert not missing, '\n'.join(missing)


def test_search_finds_pages(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.common.exceptions import TimeoutException
    browser.get(server + 'index.html')
    browser.execute_script("document.getElementById('__search').checked = true")
    box = WebDriverWait(browser, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, 'input.md-search__input'))
    box.send_keys('checkpoint')
    # The search runs in a web worker and redraws the list for each prefix typed ('c', 'ch', ...): wait for the list
    # of the whole word instead of taking the first list drawn (on a loaded CI host that was an earlier prefix's).
    def pages(d):
        hrefs = [a.get_attribute('href') or '' for a in d.find_elements(By.CSS_SELECTOR, '.md-search-result__item a')]
        return {h.split('?')[0].split('#')[0].rsplit('/', 1)[-1] for h in hrefs}
    try: found = WebDriverWait(browser, 30).until(lambda d: 'checkpoint.html' in (p := pages(d)) and len(p) >= 3 and p)
    except TimeoutException: found = pages(browser)
    assert 'checkpoint.html' in found and len(found) >= 3, sorted(found)   # the page of that name among others


def test_screenshots(browser, server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in (('home', 'index.html'), ('recipe_resnet', 'recipes/resnet.html')):
        browser.set_window_size(1280, 1600)
        browser.get(server + page)
        assert browser.save_screenshot(str(SHOTS/f'{name}.png'))
        assert (SHOTS/f'{name}.png').stat().st_size > 20_000


def test_commands_fit_the_home_page(browser, server):
    """Every command example of the home page fits its column without a horizontal scroll bar (issue 20); a results
    table printed by a command may be wider."""
    browser.get(server + 'index.html')
    wide = browser.execute_script("""
        return [...document.querySelectorAll('.jp-RenderedMarkdown pre, .jp-MarkdownCell pre')]
            .filter(p => /^(vcls|make|torchrun|pip|python|#) /m.test(p.innerText) && !/-----  /.test(p.innerText))
            .filter(p => p.scrollWidth > p.clientWidth + 1)
            .map(p => [p.scrollWidth, p.clientWidth, p.innerText.split('\\n').reduce((a, l) => l.length > a.length ? l : a, '')]);
    """)
    assert not wide, wide
