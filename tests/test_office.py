"""The village office: imports a secretary can fix, cards with the right address, exports."""

import re

import pytest
from testsupport import (
    csrf_token,
    log_in,
)


@pytest.fixture
def office(client, admin):
    """The admin's browser, pages in Chinese (the village's language)."""
    log_in(client, "admin")
    return client


# Roster imports -----------------------------------------------------------------------------


# Card sheets --------------------------------------------------------------------------------


# Exports from the report page ---------------------------------------------------------------


def test_the_reports_page_offers_excel_and_csv_of_every_report(office, roster):
    page = office.get("/admin/reports", query_string={"from": "2026-01-01", "to": "2026-01-31"})

    assert page.status_code == 200
    for what in (
        "summary",
        "inspections",
        "redemptions",
        "ledger",
        "households",
        "stock_movements",
    ):
        for fmt in ("xlsx", "csv"):
            assert (
                f"/admin/reports/export/{what}.{fmt}?from=2026-01-01&amp;to=2026-01-31" in page.text
            )
    assert "导出 Excel" in page.text and "导出 CSV" in page.text


def test_an_export_from_the_page_downloads_the_chosen_range(office, roster):
    response = office.get(
        "/admin/reports/export/households.csv",
        query_string={"from": "2026-01-01", "to": "2026-01-31"},
    )

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="households-MZ-2026-01-01-2026-01-31.csv"'
    )
    assert response.is_streamed
    text = response.get_data().decode("utf-8-sig")
    assert all(h.code in text for h in roster)


def test_the_summary_exports_the_village_and_each_grid(office, roster, grids):
    response = office.get("/admin/reports/export/summary.csv")

    lines = response.get_data().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("范围,住户数,参与住户数")
    assert [line.split(",")[0] for line in lines[1:]] == ["全村", "东一网格", "西一网格"]
    assert lines[1].split(",")[1] == "5"
    xlsx = office.get("/admin/reports/export/summary.xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")


def test_a_wrong_range_is_said_on_the_page(office, roster):
    page = office.get("/admin/reports", query_string={"from": "2026-02-01", "to": "2026-01-01"})

    assert page.status_code == 422
    assert "请选择起始日期不晚于结束日期" in page.text
    assert "data-export-csv" not in page.text


# Voiding a wrong grade from the household page ----------------------------------------------


@pytest.fixture
def graded(household, make_user):
    """The household graded A (3 points) by an inspector."""
    from app.db import db
    from app.inspections.services import record_inspection

    inspection = record_inspection(household, make_user("inspector", username="li"), "A")
    db.session.commit()
    return inspection


def _void(client, household_id: int, inspection_id: int, reason: str, key: str | None = None):
    page = client.get(f"/admin/households/{household_id}")
    key = (
        key
        or re.search(
            rf'inspections/{inspection_id}/void".*?name="key" value="([0-9a-f]+)"', page.text, re.S
        )[1]
    )
    return client.post(
        f"/admin/households/{household_id}/inspections/{inspection_id}/void",
        data={"reason": reason, "key": key, "csrf_token": csrf_token(client)},
        follow_redirects=True,
    )


def test_the_admin_voids_a_wrong_grade_from_the_household_page(office, household, graded):
    from sqlalchemy import select

    from app.audit.models import AuditEvent
    from app.db import db
    from app.ledger.services import household_account

    page = office.get(f"/admin/households/{household.id}")
    assert "作废这次评分" in page.text

    response = _void(office, household.id, graded.id, "评错了等级")

    assert response.status_code == 200
    assert "这次检查已作废，积分已收回" in response.text
    assert "已作废：评错了等级" in response.text
    assert household_account(household.id).balance == 0
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.target_type == "inspection")
    ).one()
    assert (event.target_id, event.actor_id) == (graded.id, 1)


def test_a_void_is_refused_readably_when_already_voided_or_without_a_reason(
    office, household, graded
):
    from app.ledger.services import household_account

    empty = _void(office, household.id, graded.id, "   ")
    assert empty.status_code == 422
    assert household_account(household.id).balance == 3

    _void(office, household.id, graded.id, "评错了")
    key = "a" * 32
    again = office.post(
        f"/admin/households/{household.id}/inspections/{graded.id}/void",
        data={"reason": "再来一次", "key": key, "csrf_token": csrf_token(office)},
        follow_redirects=True,
    )
    assert again.status_code == 200
    [said] = re.findall(r"data-void-error>([^<]*)</p>", again.text)
    assert said and not re.search("[A-Za-z]", said), said
    assert household_account(household.id).balance == 0


def test_an_inspection_of_another_household_is_not_voided_through_this_one(
    office, make_household, graded
):
    other = make_household(name="王建国", address="和平路12号")

    response = office.post(
        f"/admin/households/{other.id}/inspections/{graded.id}/void",
        data={"reason": "错", "key": "b" * 32, "csrf_token": csrf_token(office)},
    )

    assert response.status_code == 404
