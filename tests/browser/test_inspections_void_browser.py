"""Voiding a wrong grade in a real browser, from the household page: the points go back."""

from playwright.sync_api import expect
from testsupport import (
    admin_page_at_a_size,  # noqa: F401 (the office fixture)
    shot,
)

from app.db import db


def test_a_wrong_grade_is_voided_from_the_household_page(office, household, make_user):
    from app.inspections.services import record_inspection

    inspection = record_inspection(household, make_user("inspector", username="li"), "A")
    db.session.commit()
    office.goto(f"/admin/households/{household.id}")
    expect(office.locator("[data-balance]")).to_have_text("3")

    row = office.locator(f"[data-inspection='{inspection.id}']")
    row.locator("input[name=reason]").fill("评错了等级")
    row.locator("[data-void]").click()

    expect(office.locator("[data-voided]")).to_contain_text("这次检查已作废")
    expect(office.locator("[data-balance]")).to_have_text("0")
    expect(row.locator("[data-voided-mark]")).to_contain_text("评错了等级")
    expect(row.locator("[data-void]")).to_have_count(0)
    shot(office, f"office-void-{office.size_name}")
