"""The household pages' forms are the API's actions: same schema, same refusals, once per key.

The add, edit, reissue, correction and login forms carry a key made when the page
was shown, so a resent form acts once; text with a NUL byte or a bidi override is
refused with a readable page on both databases; and the detail page never shows
text taken from its query string.
"""

import re

import pytest
from sqlalchemy import select
from testsupport import (
    KEY,
    assert_problem,
    balance_of,
    count,
    household_count,
    log_in,
    page_post,
)

from app.audit.models import AuditEvent
from app.auth.models import User
from app.db import db
from app.households.models import CardReissue, Household
from app.ledger.models import Journal

# A NUL byte (PostgreSQL cannot store it) and a right-to-left override (it disguises text).
HIDDEN = {"nul": "马\x00秀英", "bidi": "幸福路\u202e8号"}
READABLE = "Remove the control or invisible characters."


def form_key(page, action: str) -> str:
    """Return the key that the page's form posting to action was shown with."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', page.text, re.S)
    assert form, f"the page has no form for {action}"
    key = KEY.search(form.group(1))
    assert key, f"the form for {action} carries no key"
    return key.group(1)


def journals() -> int:
    return count(Journal)


def events(action: str) -> int:
    return len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


# A resent form acts once --------------------------------------------------------------------


def test_a_resent_add_form_adds_one_household(admin_client, grid):
    key = KEY.search(admin_client.get("/admin/households/new").text).group(1)
    form = {"name": "王建国", "address": "和平路12号", "grid_id": str(grid.id), "key": key}

    first = page_post(admin_client, "/admin/households/new", form)
    again = page_post(admin_client, "/admin/households/new", form)

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert household_count() == 1
    assert events("household_created") == 1


def test_a_resent_reissue_form_reissues_once(admin_client, household):
    detail = f"/admin/households/{household.id}"
    action = f"{detail}/reissue"
    key = form_key(admin_client.get(detail), action)

    first = page_post(admin_client, action, {"reason": "卡片遗失", "key": key})
    again = page_post(admin_client, action, {"reason": "卡片遗失", "key": key})

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    db.session.refresh(household)
    assert household.card_version == 2
    assert count(CardReissue) == 1
    assert "v2" in admin_client.get(detail).text


def test_each_form_on_the_detail_page_has_a_key_of_its_own(admin_client, household):
    page = admin_client.get(f"/admin/households/{household.id}")
    keys = KEY.findall(page.text)
    assert len(keys) == page.text.count('name="key"') >= 3
    assert len(set(keys)) == len(keys)
    assert not set(keys) & set(KEY.findall(admin_client.get(page.request.path).text))


def test_a_resent_correction_form_counts_once(admin_client, make_household):
    household = make_household(points=10)
    detail = f"/admin/households/{household.id}"
    action = f"{detail}/adjust"
    key = form_key(admin_client.get(detail), action)
    form = {"amount": "5", "reason": "补录纸质记录", "key": key}

    first = page_post(admin_client, action, form)
    again = page_post(admin_client, action, form)

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    assert balance_of(household) == 15
    assert "Points corrected: +5" in admin_client.get(first.headers["Location"]).text


def test_a_resent_edit_form_changes_once(admin_client, household, grid):
    action = f"/admin/households/{household.id}/edit"
    key = KEY.search(admin_client.get(action).text).group(1)
    form = {
        "name": "马秀兰",
        "address": household.address,
        "grid_id": str(grid.id),
        "status": "active",
        "key": key,
    }

    first = page_post(admin_client, action, form)
    again = page_post(admin_client, action, form)

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    assert events("household_updated") == 1


def test_a_resent_login_form_creates_one_login(admin_client, household):
    detail = f"/admin/households/{household.id}"
    action = f"{detail}/login"
    key = form_key(admin_client.get(detail), action)
    form = {"username": "ma-family", "password": "long-enough-1", "key": key}

    first = page_post(admin_client, action, form)
    again = page_post(admin_client, action, form)

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Login created: ma-family" in admin_client.get(first.headers["Location"]).text
    assert count(User) == 2  # the admin and the new login


def test_a_form_without_its_key_changes_nothing(admin_client, make_household):
    household = make_household(points=10)

    response = page_post(
        admin_client,
        f"/admin/households/{household.id}/adjust",
        {"amount": "5", "reason": "补录", "key": ""},
    )

    assert response.status_code == 400
    assert "The form expired" in response.text
    assert balance_of(household) == 10


# Hidden characters in any text field: a readable 422, nothing stored -----------------------


def _nothing_stored(household: Household, journals_before: int) -> None:
    db.session.rollback()
    stored = db.session.get(Household, household.id)
    assert (stored.name, stored.address, stored.phone) == ("马秀英", "马庄村1组 幸福路8号", None)
    assert stored.card_version == 1
    assert household_count() == 1
    assert journals() == journals_before
    assert count(CardReissue) == 0
    assert count(User) == 1  # the admin alone


# (form, field): where each form posts, and the rest of a form that would pass.
TEXT_FIELDS = {
    ("add", "name"),
    ("add", "address"),
    ("add", "phone"),
    ("edit", "name"),
    ("edit", "address"),
    ("edit", "phone"),
    ("reissue", "reason"),
    ("adjust", "reason"),
    ("login", "username"),
    ("login", "password"),
}


def _form(kind: str, household: Household) -> tuple[str, dict]:
    base = f"/admin/households/{household.id}"
    details = {"name": "王建国", "address": "和平路12号", "grid_id": str(household.grid_id)}
    return {
        "add": ("/admin/households/new", details),
        "edit": (f"{base}/edit", {**details, "status": "active"}),
        "reissue": (f"{base}/reissue", {"reason": "卡片遗失"}),
        "adjust": (f"{base}/adjust", {"amount": "5", "reason": "补录"}),
        "login": (f"{base}/login", {"username": "ma-family", "password": "long-enough-1"}),
    }[kind]


@pytest.mark.parametrize("text", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize(
    ("kind", "field"), sorted(TEXT_FIELDS), ids=[f"{k}-{f}" for k, f in sorted(TEXT_FIELDS)]
)
def test_hidden_characters_get_a_readable_422_and_nothing_is_stored(
    admin_client, household, kind, field, text
):
    before = journals()
    path, form = _form(kind, household)

    response = page_post(admin_client, path, {**form, field: text})

    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.text
    if field != "password":  # the password's own rule words it its way
        assert READABLE in response.text
    assert "\x00" not in response.text and "\u202e" not in response.text
    _nothing_stored(household, before)


@pytest.mark.parametrize("text", HIDDEN.values(), ids=HIDDEN.keys())
def test_hidden_characters_in_the_search_box_get_a_readable_422(admin_client, household, text):
    response = admin_client.get("/admin/households", query_string={"q": text})

    assert response.status_code == 422
    assert READABLE in response.text
    assert "\x00" not in response.text and "\u202e" not in response.text


# The detail page never shows text from its query string ---------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"adjust_error": "<script>alert(1)</script>"},
        {"adjust_error": "请拨打110"},
        {"login_error": "anything at all"},
        {"login_created": "anything at all"},
        {"adjusted": "anything at all"},
    ],
    ids=lambda query: next(iter(query)),
)
def test_the_detail_page_shows_no_text_from_its_query_string(admin_client, household, query):
    response = admin_client.get(f"/admin/households/{household.id}", query_string=query)

    assert response.status_code == 200
    text = next(iter(query.values()))
    assert text not in response.text
    assert "<script>" not in response.text and "&lt;script&gt;" not in response.text
    assert "data-adjust-error" not in response.text and "data-login-error" not in response.text


def test_the_detail_page_translates_a_refusal_code(admin_client, household):
    response = admin_client.get(
        f"/admin/households/{household.id}", query_string={"adjust_error": "insufficient_points"}
    )

    assert "Not enough points." in response.text


# The API and the page refuse the same input -------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "reason", "status"),
    [
        ("0", "补录", 422),
        ("abc", "补录", 422),
        ("1e3", "补录", 422),
        ("1000000001", "补录", 422),
        ("5", "", 422),
        ("5", "x" * 501, 422),
        ("-11", "扣分", 409),
    ],
)
def test_a_correction_is_refused_alike_by_the_api_and_the_page(
    client, admin_client, admin_headers, make_household, amount, reason, status
):
    household = make_household(points=10)
    body = {"household_id": household.id, "reason": reason}
    body["amount"] = int(amount) if amount.lstrip("-").isdigit() else amount

    api = client.post("/api/v1/adjustments", json=body, headers=admin_headers)
    page = page_post(
        admin_client,
        f"/admin/households/{household.id}/adjust",
        {"amount": amount, "reason": reason},
        follow_redirects=True,
    )

    assert_problem(api, status)
    assert page.status_code == (200 if status == 409 else status)  # a refusal: back to the page
    assert "data-adjust-error" in page.text
    assert balance_of(household) == 10


def test_an_over_long_reissue_reason_is_refused_alike(
    client, admin_client, admin_headers, household
):
    api = client.post(
        f"/api/v1/households/{household.id}/qr/reissue",
        json={"reason": "x" * 501},
        headers=admin_headers,
    )
    page = page_post(
        admin_client, f"/admin/households/{household.id}/reissue", {"reason": "x" * 501}
    )

    assert_problem(api, 422, "validation_error")
    assert page.status_code == 422
    assert "Reason: The text is too long or too short." in page.text
    db.session.rollback()
    assert db.session.get(Household, household.id).card_version == 1


# Numbers no row can have ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["id=%C2%B2", "id=99999999999999999999999", "grid_id=99999999999999999999999"],
    ids=["superscript", "huge-id", "huge-grid"],
)
def test_a_card_sheet_of_an_impossible_number_is_a_readable_page(admin_client, household, query):
    response = admin_client.get(f"/admin/cards.pdf?{query}")

    assert response.status_code == 422
    assert response.mimetype == "text/html"


def test_a_statement_page_past_any_version_starts_at_the_newest(client, resident, household):
    log_in(client, "resident", english=True)

    response = client.get("/my?before=99999999999999999999999")

    assert response.status_code == 200
