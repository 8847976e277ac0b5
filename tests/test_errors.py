"""Errors: a browser gets a friendly page, the API a problem+json naming what went wrong."""

import pytest
from testsupport import HTML, assert_problem, log_in

# The API: problem details --------------------------------------------------------------


def test_unknown_api_url_is_404_problem(client):
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_problem_naming_the_allowed_methods(client, admin_headers):
    response = client.put("/api/v1/grids", headers=admin_headers, json={"name": "x"})

    assert_problem(response, 405)
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_malformed_json_body_is_400_validation_error(client, admin_headers):
    response = client.post(
        "/api/v1/grids", data='{"name": ', headers=admin_headers, content_type="application/json"
    )

    assert_problem(response, 400, "validation_error")


def test_schema_errors_are_422_with_errors_per_field(client, admin_headers):
    response = client.post(
        "/api/v1/adjustments", headers=admin_headers, json={"household_id": "one", "reason": ""}
    )

    body = assert_problem(response, 422, "validation_error")
    assert set(body["errors"]) == {"household_id", "amount", "reason"}
    assert all(isinstance(messages, list) and messages for messages in body["errors"].values())


def test_refusal_is_409_problem(adjust, household):
    body = assert_problem(adjust(household, -1), 409, "insufficient_points")

    assert body["detail"]


# The pages: friendly HTML --------------------------------------------------------------


def test_unknown_page_gives_a_friendly_html_404(client):
    response = client.get("/no/such/page", headers=HTML)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "页面不存在" in response.text
    assert "Traceback" not in response.text
    assert "application/problem+json" not in response.content_type


def test_wrong_method_for_a_browser_gives_a_friendly_html_405(client):
    response = client.get("/logout", headers=HTML)

    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "此页面不支持该操作" in response.text
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/admin/households/99999999999999999999999", "/admin/goods/0"])
def test_an_id_out_of_range_in_a_page_path_is_not_found(client, admin, path):
    log_in(client, admin.username)

    response = client.get(path)

    assert response.status_code == 404
