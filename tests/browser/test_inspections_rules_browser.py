"""The rules page in a real browser at phone size: a refused form shows its error and the input."""

from testsupport import (
    SHOTS,
    SIZES,
    _no_sideways_scroll,
    log_in_browser,
    village_at_work,  # noqa: F401 (the office fixture)
)


def test_a_refused_rules_form_shows_only_the_error_and_what_was_typed(page, office):
    page.set_viewport_size(SIZES["phone"])
    log_in_browser(page, "admin")
    page.goto("/admin/rules")
    page.fill("input[name=points-A]", "5")
    page.click("text=保存")
    page.wait_for_url("**/admin/rules?saved=1")

    page.fill("input[name=points-A]", "6")
    page.fill("input[name=points-B]", "")
    page.click("text=保存")

    error = page.locator("[data-rules-error]")
    assert "B 等级的积分" in error.inner_text()
    assert page.locator(".notice").count() == 0
    assert page.input_value("input[name=points-A]") == "6"
    assert page.get_attribute("input[name=points-B]", "aria-invalid") == "true"
    assert page.locator("input[name=points-B]").bounding_box()["x"] + 40 < SIZES["phone"]["width"]
    _no_sideways_scroll(page)
    page.screenshot(path=f"{SHOTS}/office-rules-refused-phone.png", full_page=False)
