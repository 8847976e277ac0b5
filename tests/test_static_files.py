"""Light pages on a weak link: static files under content-hashed names, gzipped, kept."""

import gzip
import html
import json
import os
import re
from pathlib import Path

from testsupport import log_in

from app.inspections.roster import QUEUE_OUTCOMES, queue_protocol
from app.static_files import digest_of, module_graph, module_source
from app.writes import PAGE_KEY_PREFIX

SOURCES = re.compile(r'(?:src|href)="(/static/[^"]+)"')
FOREVER = "public, max-age=31536000, immutable"


def fetch(client, path: str, **kwargs):
    """Get a static file and close it (send_file keeps the file open until then)."""
    response = client.get(path, **kwargs)
    response.get_data()
    response.close()
    return response


def test_static_urls_carry_their_content_hash_and_are_kept_for_good(client, inspector):
    log_in(client, "inspector")
    page = client.get("/inspect").text
    scanner = next(u for u in SOURCES.findall(page) if "/js/scanner." in u)
    assert re.fullmatch(r"/static/js/scanner\.[0-9a-f]{12}\.js", scanner)

    hashed = fetch(client, scanner, headers={"Accept-Encoding": "gzip, br"})
    assert hashed.status_code == 200
    assert hashed.headers["Cache-Control"] == FOREVER
    assert hashed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in hashed.headers["Vary"]
    plain = fetch(client, "/static/js/scanner.js")
    assert plain.headers["Cache-Control"] == "no-cache"
    assert "Content-Encoding" not in plain.headers
    assert len(hashed.data) < len(plain.data) / 2
    # A name with a hash that is no longer the file's gets today's file, not kept for good.
    stale = fetch(client, "/static/js/scanner.000000000000.js")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
    assert fetch(client, "/static/js/nothing.000000000000.js").status_code == 404


def test_the_inspect_page_is_under_60_kb_compressed_before_the_decoder(
    client, inspector, make_household
):
    for n in range(30):
        make_household(name=f"住户{n}")
    log_in(client, "inspector")
    page = client.get("/inspect", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"  # the app compresses its pages
    total = len(page.data)
    assets = SOURCES.findall(gzip.decompress(page.data).decode())
    assert any("/js/inspect." in a for a in assets) and any("/css/app." in a for a in assets)
    for asset in assets:
        response = fetch(client, asset, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, asset
        total += len(response.data)
    assert total < 60_000, total


def test_every_page_links_the_tabs_icon(client):
    page = client.get("/login").text
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)

    answers = [fetch(client, icon) for icon in icons]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert {answer.mimetype for answer in answers} == {"image/svg+xml", "image/vnd.microsoft.icon"}


MODULE = re.compile(r"""^\s*(?:import|export)\b[^;]*?["']([^"']+\.js)["']""", re.MULTILINE)
STATIC = Path(__file__).resolve().parent.parent / "static"


def module_graph_of(client, url: str, seen: dict[str, str]) -> None:
    """Walk a module and what it imports, as the browser would, from its served text."""
    if url in seen:
        return
    answer = fetch(client, url)
    assert answer.status_code == 200, url
    assert answer.headers["Cache-Control"] == FOREVER, url
    assert answer.mimetype == "text/javascript"
    seen[url] = answer.get_data(as_text=True)
    for imported in MODULE.findall(seen[url]):
        module_graph_of(client, imported, seen)


def test_a_module_imports_the_others_under_their_hashed_names(client, inspector):
    """The inspector app's modules are all kept for good, and all precached by the worker."""
    log_in(client, "inspector")
    page = client.get("/inspect").text
    assert re.search(r'<script type="module" src="/static/js/inspect\.[0-9a-f]{12}\.js">', page)
    entry = next(u for u in SOURCES.findall(page) if "/js/inspect." in u)

    seen: dict[str, str] = {}
    module_graph_of(client, entry, seen)

    names = {re.sub(r"\.[0-9a-f]{12}\.js$", ".js", url) for url in seen}
    assert {
        "/static/js/inspect.js",
        "/static/js/queue.js",
        "/static/js/queue-store.js",
        "/static/js/inspect/roster.js",
        "/static/js/inspect/queue-view.js",
        "/static/js/inspect/outcomes.js",
        "/static/js/inspect/scanning.js",
    } <= names
    for url in seen:
        assert re.fullmatch(r"/static/js/[\w/-]+\.[0-9a-f]{12}\.js", url), url
    worker = client.get("/sw.js").text
    assets = json.loads(re.search(r"var ASSETS = (\[.*?\]);", worker).group(1))
    assert set(seen) <= set(assets)
    # The worker is a module too: its import of the queue is the hashed one.
    queue = next(url for url in seen if "/js/queue." in url)
    assert f'import * as queue from "{queue}";' in worker


def test_a_module_gets_a_new_name_when_one_it_imports_changes(app, tmp_path, monkeypatch):
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text('import { b } from "./b.js";\nb();\n')
    (tmp_path / "js" / "b.js").write_text("export function b() { return 1; }\n")
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    with app.test_request_context():
        before = digest_of(tmp_path / "js" / "a.js")
        served = module_source("js/a.js")
        b_hash = digest_of(tmp_path / "js" / "b.js")
        assert served.startswith(f'import {{ b }} from "/static/js/b.{b_hash}.js"')

        (tmp_path / "js" / "b.js").write_text("export function b() { return 2; }\n")
        os.utime(tmp_path / "js" / "b.js", ns=(1, 1))

        assert digest_of(tmp_path / "js" / "a.js") != before
        assert module_graph(("js/a.js",)) == ("js/a.js", "js/b.js")


def test_the_queue_is_told_the_key_prefix_and_the_refusal_codes_by_the_server(client, inspector):
    """The page and the worker carry them; no script keeps a copy of its own."""
    log_in(client, "inspector")
    page = client.get("/inspect").text
    prefix = re.search(r'data-page-key-prefix="([^"]*)"', page).group(1)
    outcomes = re.search(r'data-queue-outcomes="([^"]*)"', page).group(1)
    assert prefix == PAGE_KEY_PREFIX
    assert json.loads(html.unescape(outcomes)) == QUEUE_OUTCOMES
    worker = client.get("/sw.js").text
    assert f"queue.configure({json.dumps(queue_protocol(), sort_keys=True)});" in worker

    for script in (STATIC / "js").rglob("*.js"):
        text = script.read_text(encoding="utf-8")
        assert f'"{PAGE_KEY_PREFIX}' not in text, script
        assert not [code for code in QUEUE_OUTCOMES if code in text], script
