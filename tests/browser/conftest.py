"""A real headless Chromium against a live server, with a fake camera showing a card.

The camera file is fixed for the life of the browser, so it shows one canonical
card: household 1, card version 1, of village 1, signed with the test secret.
Every test database starts its ids at 1 (a fresh SQLite file; PostgreSQL
truncated with RESTART IDENTITY), so a test that creates a village and then a
household owns that card. See ../shared/BROWSER_TESTING.md.

Pages are served on plain http://127.0.0.1 (a secure context) by `live_server`, and
over https with the session's own certificate by `https_server`: the inspector app
(service worker, camera) is tested the way phones get it. The certificate comes from
deploy/local-cert.sh, like `make run HTTPS=1`; Chromium trusts its authority the way
a phone does, from its own certificate store (an NSS database in a HOME made for the
browser, written with `certutil` from Debian's libnss3-tools). Without certutil,
Chromium is told to accept the server's own key and nothing else (its SPKI hash).
"""

import base64
import hashlib
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import qrcode
from werkzeug.serving import make_server

from app import create_app
from app.households.cards import make_token

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `browser`, so `-m "not browser"` leaves them all out.

    A pytestmark in a conftest marks nothing; the hook sees the whole session's items.
    """
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    pytest.exit(
        "Chromium is not installed: run `make test` (it installs Debian's chromium "
        "and ffmpeg) or `apt-get install chromium ffmpeg`.",
        returncode=3,
    )
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def canonical_token() -> str:
    from testsupport import TEST_CONFIG

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        return make_token(SimpleNamespace(village_id=1, id=1, card_version=1))


def card_picture(payload: str, path: Path) -> Path:
    """Draw a card's QR in the middle of a white 640x480 picture."""
    from PIL import Image

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=8, border=4)
    code.add_data(payload)
    code.make(fit=True)
    qr = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    frame = Image.new("RGB", (640, 480), "white")
    frame.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    frame.save(path)
    return path


@pytest.fixture(scope="session")
def card_png(tmp_path_factory, canonical_token) -> Path:
    payload = f"http://greenpoints.test/q/{canonical_token}"
    return card_picture(payload, tmp_path_factory.mktemp("card") / "card.png")


@pytest.fixture(scope="session")
def camera_file(card_png) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.exit(
            "ffmpeg is not installed: run `make test` or `apt-get install ffmpeg`.", returncode=3
        )
    target = card_png.with_suffix(".y4m")
    subprocess.run(
        [
            ffmpeg,
            "-loglevel",
            "error",
            "-y",
            "-loop",
            "1",
            "-i",
            str(card_png),
            "-frames:v",
            "1",
            "-pix_fmt",
            "yuv420p",
            str(target),
        ],
        check=True,
    )
    return target


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> Path:
    """A local certificate authority and a certificate for 127.0.0.1, as `make run HTTPS=1`."""
    folder = tmp_path_factory.mktemp("tls")
    script = Path(__file__).parents[2] / "deploy" / "local-cert.sh"
    subprocess.run(["sh", str(script), str(folder)], check=True, capture_output=True)
    return folder


@pytest.fixture(scope="session")
def browser_trust(tls_files, tmp_path_factory) -> tuple[dict[str, str], list[str]]:
    """The environment and arguments that make Chromium trust the test's certificate."""
    certutil = shutil.which("certutil")
    if certutil is None:
        der = ssl.PEM_cert_to_DER_cert((tls_files / "server.crt").read_text())
        public_key = subprocess.run(
            ["openssl", "x509", "-inform", "der", "-pubkey", "-noout"],
            input=der,
            capture_output=True,
            check=True,
        ).stdout
        spki = subprocess.run(
            ["openssl", "pkey", "-pubin", "-outform", "der"],
            input=public_key,
            capture_output=True,
            check=True,
        ).stdout
        pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
        return dict(os.environ), [f"--ignore-certificate-errors-spki-list={pin}"]
    home = tmp_path_factory.mktemp("browser-home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{nssdb}", "-n", "Green Points test CA", "-t", "C,,"]
        + ["-i", str(tls_files / "ca.crt")],
        check=True,
    )
    return {**os.environ, "HOME": str(home)}, []


@pytest.fixture(scope="session")
def browser(camera_file, browser_trust) -> Iterator:
    from playwright.sync_api import sync_playwright

    env, trust_args = browser_trust
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=[*LAUNCH_ARGS, *trust_args, f"--use-file-for-fake-video-capture={camera_file}"],
            env=env,
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """Serve the test's app on 127.0.0.1 (a secure context: the camera works)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def https_server(app, tls_files) -> Iterator[str]:
    """Serve the test's app over https on 127.0.0.1, with the session's certificate."""
    context = (str(tls_files / "server.crt"), str(tls_files / "server.key"))
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


# Runs before the page's own scripts (and outside its CSP): report each violation of the
# Content-Security-Policy to the console, where the page fixture collects it.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def console_errors() -> list[str]:
    """The console errors and uncaught exceptions of the test's page, in order."""
    return []


@pytest.fixture
def page(browser, live_server, console_errors) -> Iterator:
    """A fresh browser tab on the live server; it fails the test on any CSP violation."""
    context = browser.new_context(base_url=live_server, locale="zh-CN")
    context.set_default_timeout(15_000)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()

    def on_console(message) -> None:
        if message.type == "error":
            console_errors.append(f"{message.text} [{message.location.get('url')}]")

    page.on("console", on_console)
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    yield page
    context.close()
    violations = [e for e in console_errors if "Content Security Policy" in e or "CSP" in e]
    assert not violations, violations
