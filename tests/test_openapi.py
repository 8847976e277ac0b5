"""The OpenAPI document describes every API endpoint; the docs page serves Swagger UI."""

import pytest
from testsupport import openapi_path


def test_openapi_describes_every_api_endpoint(app, client):
    documented = client.get("/api/v1/openapi.json").json["paths"]
    served = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and rule.rule not in ("/api/v1/openapi.json", "/api/v1/docs")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert served
    missing = {(path, method) for path, method in served if method not in documented.get(path, {})}
    assert missing == set()


def test_docs_page_loads_the_vendored_swagger_ui(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "/static/vendor/swagger-ui/" in response.text
    assert "/api/v1/openapi.json" in response.text


@pytest.mark.parametrize(
    "name", ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"]
)
def test_swagger_ui_files_are_served(client, name):
    response = client.get(f"/static/vendor/swagger-ui/{name}")
    try:
        assert response.status_code == 200
        assert len(response.get_data()) > 1000
    finally:
        response.close()
