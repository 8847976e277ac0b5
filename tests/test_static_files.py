"""Light pages on a weak link: static files under content-hashed names, gzipped, kept."""

import gzip
import re

from testsupport import log_in

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
