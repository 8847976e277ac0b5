"""The case rules on the admin's rules page, in a real browser at desktop size."""

import os

from testsupport import log_in_browser

from app.rules.services import current_rules

SHOTS = "/tmp/shots"


def test_the_admin_changes_a_categorys_hours_and_adds_one(page, admin, village):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in_browser(page, "admin")
    page.goto("/admin/rules")
    assert "乱倒垃圾" in page.inner_text("[data-case-rules]")
    # The server's refusal, as a browser that does not check min/max itself meets it.
    page.eval_on_selector("form[data-rules]", "form => { form.noValidate = true; }")
    page.fill("input[name='case_hours-dumping']", "0")
    page.click("text=保存")
    assert "「乱倒垃圾」的时限（小时）" in page.inner_text("[data-rules-error]")
    assert page.input_value("input[name='case_hours-dumping']") == "0"
    page.fill("input[name='case_hours-dumping']", "12")
    page.fill("input[name=case_new_code]", "smell")
    page.fill("input[name=case_new_name]", "异味")
    page.fill("input[name=case_new_hours]", "36")
    page.click("text=保存")
    page.wait_for_url("**/admin/rules?saved=1")
    assert page.input_value("input[name='case_hours-smell']") == "36"
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/case-rules.png", full_page=True)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the rules page scrolls sideways by {overflow}px"
    rules = current_rules(village.id)
    assert rules.cases.category("dumping").hours == 12
    assert rules.cases.category("smell").name == "异味"
