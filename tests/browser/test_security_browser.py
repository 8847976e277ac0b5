"""The pages under the Content-Security-Policy: no inline script or style is needed.

The page fixture fails any test whose page violates the policy; these tests walk the
pages that no other browser test opens, and the interactive API docs (Swagger UI).
"""

import pytest
from playwright.sync_api import expect
from testsupport import log_in_browser

from app.auth.models import INSPECTOR
from app.db import db
from app.inspections import services as inspections

pytestmark = pytest.mark.browser

ADMIN_PAGES = (
    "/home",
    "/admin/dashboard",
    "/admin/households",
    "/admin/households/1",
    "/admin/households/new",
    "/admin/households/import",
    "/admin/cards",
    "/admin/goods",
    "/admin/rules",
    "/admin/board",
)


def without_favicon(errors: list[str]) -> list[str]:
    """The browser asks for /favicon.ico by itself; the app has none."""
    return [error for error in errors if "/favicon.ico" not in error]


def test_the_admin_pages_show_under_the_policy(page, console_errors, admin, household, make_user):
    # An inspection, so that the dashboard draws its per-grid participation meter.
    inspections.record_inspection(household, make_user(INSPECTOR), "A")
    db.session.commit()
    log_in_browser(page, "admin")

    for path in ADMIN_PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path

    page.goto("/admin/dashboard")
    meter = page.locator("[data-grids] .meter rect").first
    expect(meter).to_have_attribute("width", "100")
    assert without_favicon(console_errors) == []


def test_the_api_docs_list_the_operations_with_no_console_errors(page, console_errors):
    page.goto("/api/v1/docs")

    expect(page.locator(".opblock").first).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/auth/tokens" in {path.replace("\u200b", "") for path in paths}
    page.locator(".opblock-summary", has_text="/api/v1/scan").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert without_favicon(console_errors) == []
