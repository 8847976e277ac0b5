"""Every page, rendered in Chinese for each kind of user, holds no untranslated English message.

The visible text of each page (its text, and the placeholders, titles and labels a user
sees) is scanned for the English catalogue's msgids: a text, or a word of two letters or
more, that is a msgid means a message reached the page without its translation.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from testsupport import PARAMETER, log_in

from app.appeals.services import file_appeal
from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db
from app.households.cards import make_token
from app.inspections.services import record_inspection
from app.ledger.approvals import request as request_adjustment
from app.redemptions.services import LineRequest, redeem_goods

ROOT = Path(__file__).resolve().parent.parent
EN = ROOT / "app/translations/en/LC_MESSAGES/messages.po"
# Shown in English on purpose: the language switch, names of formats and standards.
ALLOWED = {"English", "CSV", "Excel", "PDF", "API", "QR", "JSON", "URL", "BASE_URL", "OK"}
ATTRIBUTES = {"placeholder", "title", "alt", "aria-label"}
WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ ,.:;!?()/-]+[A-Za-z][A-Za-z'’-]*)*[.:!?)]?")
# Pages that are not HTML, or that only redirect.
SKIP = re.compile(r"\.(pdf|svg|xlsx|csv|js|json)$|^/lang/|^/healthz$|^/static/|^/api/")


def english_messages() -> set[str]:
    """The English catalogue's msgids, with their placeholders left as they are."""
    with EN.open("rb") as handle:
        catalogue = read_po(handle)
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id}


class Visible(HTMLParser):
    """Gather the text a reader sees: text nodes outside scripts, and labels in attributes."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.hidden += 1
        for name, value in attrs:
            if value and (name in ATTRIBUTES or (name == "value" and tag == "button")):
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.texts.append(data.strip())


def untranslated(html: str, messages: set[str]) -> set[str]:
    """Return the English msgids the page shows."""
    parser = Visible()
    parser.feed(html)
    found = set()
    for text in parser.texts:
        if text in messages and text not in ALLOWED:
            found.add(text)
        for run in WORDS.findall(text):
            for candidate in {run, run.rstrip(".:!?)"), run.strip("()")}:
                if candidate in messages and candidate not in ALLOWED:
                    found.add(candidate)
            for word in re.findall(r"[A-Za-z]{2,}", run):
                if word in messages and word not in ALLOWED:
                    found.add(word)
    return found


@pytest.fixture
def world(admin, inspector, make_user, resident, household, grids, make_household, make_good):
    """A village with some of everything, so every page has something to show."""
    storekeeper = make_user(STOREKEEPER, username="storekeeper")
    other = make_household(name="李小红", in_grid=grids[1], points=50)
    good = make_good("肥皂", price=5, stock=10, unit="块")
    inspection = record_inspection(household, inspector, "A")
    redemption = redeem_goods(other, storekeeper, [LineRequest(good.id, 1)]).redemption
    # An appeal of the grade, and an adjustment waiting for the admin's approval.
    appeal = file_appeal(resident, getattr(inspection, "inspection", inspection).id, "分类是对的")
    maker = make_user(ADMIN, username="second-admin")
    request_adjustment(household.village_id, household.id, 500, reason="补录", actor_id=maker.id)
    db.session.commit()
    return {
        "appeal_id": appeal.id,
        "household_id": household.id,
        "good_id": good.id,
        "inspection_id": getattr(inspection, "inspection", inspection).id,
        "redemption_id": getattr(redemption, "redemption", redemption).id,
        "token": make_token(household),
        "user_id": inspector.id,
        "grid_id": grids[0].id,
    }


def page_paths(app, world) -> list[str]:
    """Every GET page of the app, its path parameters filled from the world."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or SKIP.search(rule.rule):
            continue
        names = PARAMETER.findall(rule.rule)
        if any(name not in world for name in names):
            continue
        path = PARAMETER.sub(lambda match: str(world[match.group(1)]), rule.rule)
        if not SKIP.search(path):
            paths.append(path)
    return sorted(set(paths))


@pytest.mark.parametrize("who", ["admin", INSPECTOR, STOREKEEPER, HOUSEHOLD, "anonymous"])
def test_chinese_pages_show_no_english_message(app, client, world, who):
    messages = english_messages()
    if who != "anonymous":
        log_in(client, {HOUSEHOLD: "resident"}.get(who, who))
    shown: dict[str, set[str]] = {}
    pages = 0
    for path in page_paths(app, world):
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        pages += 1
        found = untranslated(response.get_data(as_text=True), messages)
        if found:
            shown[path] = found
    assert pages >= 2
    assert not shown, f"English on Chinese pages ({who}): {shown}"
