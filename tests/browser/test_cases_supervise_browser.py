"""The township's 督办 in a real browser at phone size, and the worker's flagged 待办."""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import update
from testsupport import PASSWORD, log_in_browser

from app.cases import services
from app.cases.models import Case
from app.db import db, utcnow
from app.townships.services import create_township, create_township_user, move_village

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")


@pytest.fixture
def overdue_case(village, resident, worker):
    """An overflowing bin reported by 马秀英 and overdue by three hours; 马庄村 is in 东湖街道."""
    town = create_township("东湖街道", "DH")
    move_village(village, town)
    create_township_user(town, "dh-staff", PASSWORD)
    case = services.report_case(resident, village.id, category="overflow", description="桶满了")
    db.session.execute(
        update(Case).where(Case.id == case.id).values(due_at=utcnow() - timedelta(hours=3))
    )
    db.session.commit()
    return case


def test_the_township_supervises_and_the_worker_sees_it_flagged(page, overdue_case, household):
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto("/login")
    page.fill("#username", "dh-staff")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/township")
    page.click("[data-township-cases-link]")

    card = page.locator(f'[data-case="{overdue_case.id}"]')
    expect(card).to_contain_text("超期")
    assert household.name not in page.locator("main").inner_text()
    card.locator("textarea").fill("请今天清运")
    card.locator("[data-supervise]").click()
    expect(page.locator("[data-done]")).to_contain_text("已督办")
    expect(page.locator(f'[data-case="{overdue_case.id}"] [data-supervised]')).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "township-supervise-phone.png"), full_page=True)

    page.context.clear_cookies()
    log_in_browser(page, "worker")
    page.goto("/inspect/cases")
    flagged = page.locator(f'[data-case="{overdue_case.id}"] [data-supervise-note]')
    expect(flagged).to_contain_text("督办")
    expect(flagged).to_contain_text("请今天清运")
    page.screenshot(path=str(SHOTS / "worker-todo-supervised-phone.png"), full_page=True)
