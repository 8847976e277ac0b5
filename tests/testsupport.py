"""Constants and helpers the tests share (importable from any test folder).

Fixtures live in conftest.py, but for the `office` fixtures at the end; plain functions
live here, one version of each.
"""

import hashlib
import io
import os
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from itsdangerous import URLSafeTimedSerializer
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import INSPECTOR
from app.catalogue.models import Good, StockMovement
from app.db import db
from app.households.models import Household
from app.households.services import reissue_card
from app.inspections.models import Inspection
from app.inspections.services import record_inspection
from app.ledger.models import Account, Journal
from app.redemptions.models import Redemption, RedemptionLine

PASSWORD = "correct-horse-battery"

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "BASE_URL": "http://greenpoints.test",
}

BASE_URL = TEST_CONFIG["BASE_URL"]
PROBLEM = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
TOKENS = "/api/v1/auth/tokens"
# What a browser sends in Accept, so a page (not problem+json) answers.
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# The roster's header row as the import templates spell it.
ROSTER_HEADER = "户主姓名,地址,网格,电话,人口"
SVG = "{http://www.w3.org/2000/svg}"
# One run of dark modules in a card's SVG path: M x y h w v1 h -w z.
RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z")
# A parameter of a Flask URL rule: <name>, <converter:name> or <converter(args):name>.
PARAMETER = re.compile(r"<(?:[^<>:]+(?:\([^)]*\))?:)?(\w+)>")
# The idempotency key a grade page or a basket page carries in its form.
KEY = re.compile(r'<input type="hidden" name="key" value="([^"]+)">')


# HTTP: problems, tokens, the login form ----------------------------------------------------


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """Check that the response is an RFC 9457 problem with this status (and code); return it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert PROBLEM_FIELDS <= set(body)
    assert body["status"] == status
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", body["code"])
    if code is not None:
        assert body["code"] == code
    return body


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header that carries this bearer token."""
    return {"Authorization": f"Bearer {token}"}


def api_log_in(client, username: str, password: str = PASSWORD):
    """Ask the API for a token with a username and password; return the response."""
    return client.post(TOKENS, json={"username": username, "password": password})


def csrf_token(client) -> str:
    """Return the CSRF token that a page would have put in this client's forms.

    Mirrors Flask-WTF: a raw token kept in the session, signed with the app's secret
    key. Page tests post it as the form field ``csrf_token``.
    """
    with client.session_transaction() as session:
        raw = session.get("csrf_token")
        if raw is None:
            raw = session["csrf_token"] = hashlib.sha1(os.urandom(64)).hexdigest()
    serializer = URLSafeTimedSerializer(client.application.secret_key, salt="wtf-csrf-token")
    return serializer.dumps(raw)


def log_in(
    client,
    username: str,
    password: str = PASSWORD,
    *,
    next_: str | None = None,
    english: bool = False,
    expect: int | None = 302,
):
    """Log in through the login form; return the response.

    english: switch the pages to English first, so a test does not depend on the Chinese
    catalogue. expect: the status the form must answer (None: the caller checks it).
    """
    if english:
        client.get("/lang/en")
    url = "/login" if next_ is None else f"/login?next={next_}"
    response = client.post(
        url, data={"username": username, "password": password, "csrf_token": csrf_token(client)}
    )
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


def openapi_path(rule: str) -> str:
    """Return a Flask URL rule as the OpenAPI document writes its path."""
    return PARAMETER.sub(lambda m: "{" + m.group(1) + "}", rule)


def log_in_browser(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form of a real browser tab; wait for the home page."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")


def page_post(client, path: str, data: dict | None = None, **kwargs):
    """Post a page form with its CSRF token and a fresh form key (unless given); return it."""
    fields = {"key": uuid.uuid4().hex, **(data or {}), "csrf_token": csrf_token(client)}
    return client.post(path, data=fields, **kwargs)


def key_of(page) -> str:
    """Return the idempotency key that a grade or basket page put in its form."""
    match = KEY.search(page.text)
    assert match, "the page's form carries no key"
    return match.group(1)


# The database, read the way a test checks it -------------------------------------------------


def balance_of(household, *, fresh: bool = False) -> int:
    """Return a household's (or a household id's) balance as its points account holds it.

    fresh: end the session's transaction first, to see what other connections committed.
    """
    if fresh:
        db.session.rollback()
    household_id = household if isinstance(household, int) else household.id
    return db.session.scalar(select(Account.balance).where(Account.household_id == household_id))


def count(model) -> int:
    """Return how many rows the model's table holds."""
    return db.session.scalar(select(func.count()).select_from(model))


def household_count() -> int:
    """Return how many households there are, in every village."""
    return count(Household)


def stock_of(good_id: int) -> int:
    """Return a good's stock as the catalogue holds it."""
    return db.session.scalar(select(Good.stock).where(Good.id == good_id))


def movements_of(good_id: int) -> list[StockMovement]:
    """Return a good's stock movements, oldest first."""
    return list(
        db.session.scalars(
            select(StockMovement).where(StockMovement.good_id == good_id).order_by(StockMovement.id)
        )
    )


def events(action: str) -> list[AuditEvent]:
    """Return the audit events of one action, as committed by now."""
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def inspection_journals() -> int:
    """Return how many inspection journals the ledger holds."""
    return db.session.scalar(select(func.count(Journal.id)).where(Journal.kind == "inspection"))


def inspection_rows(household_id: int) -> int:
    """Return how many inspections a household has had."""
    return db.session.scalar(
        select(func.count(Inspection.id)).where(Inspection.household_id == household_id)
    )


def this_year() -> int:
    """Return the current year on the village's clock (receipt numbers count by it)."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).year


def snapshot(households, goods) -> dict:
    """Everything a redemption could change, to compare before and after a refusal."""
    db.session.rollback()
    return {
        "balances": {h.id: balance_of(h.id) for h in households},
        "stocks": {g.id: stock_of(g.id) for g in goods},
        "journals": count(Journal),
        "redemptions": count(Redemption),
        "lines": count(RedemptionLine),
        "movements": count(StockMovement),
    }


# Threads ---------------------------------------------------------------------------------


def run_at_once(app, count: int, work: Callable[[int], object]) -> list:
    """Run work(i) in count threads, each with its own app context and connection,
    released together by a barrier; return what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[index] = work(index)
            except Exception as error:  # collected and asserted on by the test
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return results


# Files: pictures, PDFs, command output --------------------------------------------------------


def png_bytes(size: tuple[int, int] = (40, 30), color=(200, 10, 10, 128)) -> bytes:
    """Return a small PNG picture (RGBA unless the color says otherwise)."""
    buffer = io.BytesIO()
    Image.new("RGBA" if len(color) == 4 else "RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def csv_upload(*lines: str, filename: str = "roster.csv") -> dict:
    """Return a form's file field holding these CSV lines."""
    data = ("\r\n".join(lines) + "\r\n").encode()
    return {"file": (io.BytesIO(data), filename)}


def rasterize_svg(svg: bytes, scale: int = 8) -> Image.Image:
    """Draw the card's SVG (one path of one-module-high runs over a white rect)."""
    root = ET.fromstring(svg)
    x0, y0, width, height = (int(v) for v in root.get("viewBox").split())
    assert (x0, y0) == (0, 0) and width == height
    (rect,) = root.iter(f"{SVG}rect")
    assert rect.get("fill") in ("#fff", "#ffffff", "white")
    assert (int(rect.get("width")), int(rect.get("height"))) == (width, height)
    (path,) = root.iter(f"{SVG}path")
    data = path.get("d")
    # Every character of d is one of the runs: nothing is left out of the drawing.
    assert "".join(m.group(0) for m in RUN.finditer(data)) == data
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    for match in RUN.finditer(data):
        x, y, w, back = (int(v) for v in match.groups())
        assert w == back and 0 <= x and x + w <= width and 0 <= y < height
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1], fill=0)
    return image


def pdf_text(data: bytes) -> str:
    """Return the text of every page of a PDF."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def assert_readable_failure(result, message: str) -> None:
    """Check that a command failed with this message and without a traceback."""
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


# The rules page's form for the default rules (A 3, B 2, C 1, D 0, once a day).
RULES_FORM = {
    "points-A": "3",
    "points-B": "2",
    "points-C": "1",
    "points-D": "0",
    "label-A": "优",
    "label-B": "良",
    "label-C": "中",
    "label-D": "差",
    "daily_limit": "1",
}


# Browser tests: screenshots, screen sizes, contrast -----------------------------------------

SHOTS = Path("/tmp/shots")
# A phone (a cheap Android's 360x780) and a desktop.
SIZES = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 900}}
# The colour of an element's text and of the first opaque background behind it.
COLOURS = """
(element) => {
  const text = getComputedStyle(element).color;
  let node = element;
  let back = "rgba(0, 0, 0, 0)";
  while (node) {
    const colour = getComputedStyle(node).backgroundColor;
    if (colour && !colour.endsWith(", 0)") && colour !== "transparent") { back = colour; break; }
    node = node.parentElement;
  }
  return [text, node ? back : "rgb(255, 255, 255)"];
}
"""


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(part) for part in re.findall(r"[\d.]+", css)[:3])


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(locator) -> float:
    """The WCAG contrast ratio of an element's text against what is behind it."""
    text, back = locator.evaluate(COLOURS)
    lighter, darker = sorted((_luminance(_rgb(text)), _luminance(_rgb(back))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


# The office: the village admin at work ---------------------------------------------------
# Tests of three kinds call the admin's session `office`: a test client, a Chromium page at
# a screen's size, a village in use for the browser's admin pages. A test module imports
# the one it means by its function's name, and there it is the `office` fixture; no
# conftest holds an `office` for another module's to shadow.


@pytest.fixture(name="office")
def admin_client_in_chinese(client, admin):
    """The admin's browser, pages in Chinese (the village's language)."""
    log_in(client, "admin")
    return client


# The screens the secretary's paper work is checked on (a desktop lower than SIZES').
SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 780}}


@pytest.fixture(name="office", params=list(SCREENS))
def admin_page_at_a_size(request, page, admin, grids):
    """The admin logged in, on a desktop screen or a 360x780 phone."""
    page.set_viewport_size(SCREENS[request.param])
    log_in_browser(page, "admin")
    page.size_name = request.param
    return page


@pytest.fixture(name="office")
def village_at_work(app, admin, make_user, grids, make_household):
    """A village with inspectors, households, an inspection and a few audit events."""
    inspector = make_user(INSPECTOR, username="wanggang")
    east, west = grids
    first = make_household(name="马秀英", in_grid=east, phone="13812345678", points=20)
    make_household(name="周长顺", in_grid=west, phone="13987654321")
    record_inspection(first, inspector, "A")
    reissue_card(first, reason="门牌卡丢了", actor_id=admin.id)
    db.session.commit()
    return inspector
