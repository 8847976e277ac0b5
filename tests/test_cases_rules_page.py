"""The case rules (categories, their hours, points, cap, confirm days) on the rules page."""

import uuid

import pytest
from testsupport import RULES_FORM, csrf_token, page_post

from app.rules.services import current_rules

pytestmark = pytest.mark.usefixtures("photo_folder")

CASE_FORM = {
    **RULES_FORM,
    "case_points": "0",
    "case_daily_cap": "2",
    "case_confirm_days": "3",
}


def case_form(**overrides):
    return {**CASE_FORM, **overrides}


def test_the_page_shows_the_categories_and_their_hours(admin_client):
    page = admin_client.get("/admin/rules?lang=zh_CN").get_data(as_text=True)

    assert 'name="case_name-dumping" value="乱倒垃圾"' in page
    assert 'name="case_hours-dumping" type="number" min="1" max="720" value="48"' in page
    assert 'name="case_hours-overflow" type="number" min="1" max="720" value="24"' in page
    assert "垃圾桶满溢" in page and "其他" in page
    assert (
        'id="case_daily_cap" name="case_daily_cap" type="number" min="1" max="100" value="2"'
        in page
    )


def test_changing_hours_and_points_makes_a_version_the_api_reads(
    admin_client, client, admin_headers, village
):
    form = case_form(
        **{"case_hours-dumping": "12", "case_points": "5", "case_remove-other": "1"},
        case_new_code="smell",
        case_new_name="异味",
        case_new_hours="36",
    )

    response = page_post(admin_client, "/admin/rules", form)

    assert response.status_code == 302
    assert current_rules(village.id).version == 2
    cases = client.get("/api/v1/rules", headers=admin_headers).json["cases"]
    assert cases["points"] == 5
    hours = {c["code"]: (c["name"], c["hours"]) for c in cases["categories"]}
    assert hours["dumping"] == ("乱倒垃圾", 12)
    assert hours["smell"] == ("异味", 36)
    assert "other" not in hours
    page = admin_client.get("/admin/rules").get_data(as_text=True)
    assert 'name="case_hours-smell" type="number" min="1" max="720" value="36"' in page


@pytest.mark.parametrize("hours", ["0", "two", ""])
def test_bad_hours_are_refused_naming_the_category_and_kept(admin_client, village, hours):
    form = case_form(**{"case_hours-dumping": hours, "case_hours-mixed": "6", "case_points": "4"})

    response = page_post(admin_client, "/admin/rules?lang=zh_CN", form)

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "「乱倒垃圾」的时限（小时）" in page
    assert f'name="case_hours-dumping" type="number" min="1" max="720" value="{hours}"' in page
    assert 'name="case_hours-mixed" type="number" min="1" max="720" value="6"' in page
    assert 'value="4" aria-invalid' not in page and 'name="case_points"' in page
    assert page.count('aria-invalid="true"') == 1
    assert current_rules(village.id).version == 1


def test_a_new_category_with_a_code_already_used_is_refused(admin_client, village):
    form = case_form(case_new_code="dumping", case_new_name="又一个", case_new_hours="5")

    page = page_post(admin_client, "/admin/rules?lang=zh_CN", form).get_data(as_text=True)

    assert "新类别的代码" in page
    assert 'name="case_new_name" value="又一个"' in page
    assert current_rules(village.id).version == 1


def test_a_category_that_open_cases_use_cannot_be_removed(
    admin_client, client, resident_headers, village
):
    created = client.post("/api/v1/cases", headers=resident_headers, json={"category": "dumping"})
    assert created.status_code == 201, created.json

    page = admin_client.get("/admin/rules?lang=zh_CN").get_data(as_text=True)
    assert "1 件未办结上报使用中" in page
    assert 'name="case_remove-dumping"' not in page
    assert 'name="case_remove-mixed"' in page

    response = page_post(
        admin_client, "/admin/rules?lang=zh_CN", case_form(**{"case_remove-dumping": "1"})
    )
    assert response.status_code == 422
    assert "类别「乱倒垃圾」" in response.get_data(as_text=True)
    assert current_rules(village.id).cases.category("dumping") is not None
    assert current_rules(village.id).version == 1


def test_a_resent_form_makes_one_version(admin_client, village):
    form = case_form(**{"case_hours-overflow": "8"}, key=uuid.uuid4().hex)
    form["csrf_token"] = csrf_token(admin_client)

    first = admin_client.post("/admin/rules", data=form)
    second = admin_client.post("/admin/rules", data=form)

    assert first.status_code == second.status_code == 302
    rules = current_rules(village.id)
    assert rules.version == 2
    assert rules.cases.category("overflow").hours == 8
