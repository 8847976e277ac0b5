"""CSRF tokens on every page form, cookie flags, security headers, a docs page without
inline script (issue 7)."""

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from testsupport import PASSWORD, TEST_CONFIG, balance_of, csrf_token, key_of, log_in

from app import create_app
from app.db import db

ROOT = Path(__file__).resolve().parent.parent
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def page_post_rules() -> list:
    """Every page rule that takes a POST: a new form route is covered by itself.

    The API (bearer tokens) and Open311 (an api_key; tests/test_open311.py) send no cookie.
    """
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "POST" in (rule.methods or ()) and not rule.rule.startswith(("/api/", "/open311/"))
        ),
        key=lambda rule: rule.rule,
    )


PAGE_POSTS = page_post_rules()


def url_of(rule) -> str:
    """Fill the rule's variables with plausible values (the check comes before the view)."""
    values = {name: 1 if name.endswith("_id") else "restock" for name in rule.arguments}
    return rule.build(values)[1]


def row_counts() -> dict[str, int]:
    """How many rows each table holds: a refused form must not change any of them."""
    db.session.rollback()
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def logged_in(client) -> bool:
    return client.get("/home", headers=HTML).status_code != 302


@pytest.fixture
def inspector_page(client, inspector):
    """The inspector's phone: logged in through the form, pages in English."""
    log_in(client, "inspector", english=True)
    return client


def grade_form(client, household) -> dict[str, str]:
    """The grade page's form, filled in with an A, as the browser would post it."""
    return {
        "key": key_of(client.get(f"/inspect/household/{household.id}")),
        "grade": "A",
        "note": "",
    }


# CSRF: every page form ----------------------------------------------------------------------


def test_the_url_map_has_the_page_forms():
    """The list the tests below walk is built from the URL map, and it is not empty."""
    rules = {rule.rule for rule in PAGE_POSTS}
    assert {"/login", "/logout", "/inspect/household/<id:household_id>"} <= rules
    assert "/shop/household/<id:household_id>" in rules
    assert "/admin/goods/<id:good_id>/<action>" in rules


@pytest.mark.parametrize("rule", PAGE_POSTS, ids=lambda rule: rule.rule)
@pytest.mark.parametrize("token", ["none", "garbage", "other session"])
def test_a_page_post_without_this_sessions_token_is_refused(
    app, admin_client, household, rule, token
):
    data = {"reason": "x", "quantity": "3", "username": "admin", "password": PASSWORD}
    if token == "garbage":
        data["csrf_token"] = "not-a-token"
    elif token == "other session":
        data["csrf_token"] = csrf_token(app.test_client())
    before = row_counts()

    response = admin_client.post(url_of(rule), data=data, headers=HTML)

    assert response.status_code == 400, response.text
    assert response.mimetype == "text/html"
    assert "This form has expired." in response.text
    assert "Traceback" not in response.text
    assert row_counts() == before
    assert logged_in(admin_client)


def test_the_refusal_page_is_chinese_by_default(client):
    response = client.post("/login", data={"username": "x", "password": "y"})

    assert response.status_code == 400
    assert 'lang="zh-CN"' in response.text


def test_a_page_post_asking_for_json_gets_problem_json(admin_client):
    response = admin_client.post("/logout", headers={"Accept": "application/json"})

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "validation_error"


def test_a_grade_form_without_the_token_credits_nothing(app, inspector_page, household):
    form = grade_form(inspector_page, household)

    for token in (None, "not-a-token", csrf_token(app.test_client())):
        data = form if token is None else {**form, "csrf_token": token}
        response = inspector_page.post(f"/inspect/household/{household.id}", data=data)
        assert response.status_code == 400
        assert balance_of(household.id, fresh=True) == 0

    response = inspector_page.post(
        f"/inspect/household/{household.id}",
        data={**form, "csrf_token": csrf_token(inspector_page)},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/inspect/done/")
    assert balance_of(household.id, fresh=True) == 3


def test_the_token_in_the_page_is_the_one_that_works(inspector_page, household):
    page = inspector_page.get(f"/inspect/household/{household.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token

    response = inspector_page.post(
        f"/inspect/household/{household.id}",
        data={**grade_form(inspector_page, household), "csrf_token": token.group(1)},
    )

    assert response.status_code == 302
    assert balance_of(household.id, fresh=True) == 3


def test_a_form_left_open_for_hours_still_posts(monkeypatch, inspector_page, household):
    form = grade_form(inspector_page, household)  # rendering it kept a token in the session
    with inspector_page.session_transaction() as session:
        raw = session["csrf_token"]
    serializer = URLSafeTimedSerializer(inspector_page.application.secret_key, "wtf-csrf-token")
    with monkeypatch.context() as patch:
        # Sign the page's token as if the page had been rendered ten hours ago.
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 36_000)
        token = serializer.dumps(raw)

    response = inspector_page.post(
        f"/inspect/household/{household.id}", data={**form, "csrf_token": token}
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/inspect/done/")
    assert balance_of(household.id, fresh=True) == 3


def test_the_login_form_needs_the_token(client, admin):
    before = row_counts()

    response = client.post("/login", data={"username": "admin", "password": PASSWORD})

    assert response.status_code == 400
    assert not logged_in(client)
    assert row_counts() == before
    log_in(client, "admin")
    assert logged_in(client)


def test_logout_needs_the_token(admin_client):
    assert admin_client.post("/logout").status_code == 400
    assert logged_in(admin_client)

    response = admin_client.post("/logout", data={"csrf_token": csrf_token(admin_client)})

    assert response.status_code == 302
    assert not logged_in(admin_client)


def test_every_post_form_in_the_templates_carries_the_token():
    """Every form that posts has the CSRF token; every one that writes, a form key too.

    A form drawn by the write_form macro (app/templates/_macros.html) gets both there.
    """
    forms = 0
    for template in (ROOT / "app" / "templates").rglob("*.html"):
        text = template.read_text()
        forms += text.count("macros.write_form(")
        for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S):
            if 'method="post"' in match.group(0).lower():
                forms += 1
                assert 'name="csrf_token" value="{{ csrf_token() }}"' in match.group(1), template
                if "login" not in template.name and "/logout" not in match.group(0):
                    assert 'name="key" value="{{ form_key() }}"' in match.group(1), template
    assert forms >= 16


# The API: bearer tokens, no CSRF token, never the session cookie -----------------------------


def test_the_api_takes_a_bearer_token_and_no_csrf_token(client, admin, admin_headers):
    login = client.post("/api/v1/auth/tokens", json={"username": "admin", "password": PASSWORD})
    assert login.status_code == 201

    response = client.post("/api/v1/grids", json={"name": "西二网格"}, headers=admin_headers)

    assert response.status_code == 201


def test_a_session_cookie_alone_does_not_open_the_api(admin_client):
    assert admin_client.get("/api/v1/grids").status_code == 401
    before = row_counts()

    response = admin_client.post(
        "/api/v1/grids",
        json={"name": "西二网格"},
        headers={"X-CSRFToken": csrf_token(admin_client)},
    )

    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"
    assert row_counts() == before


# Security headers ---------------------------------------------------------------------------


def assert_security_headers(response) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    policy = dict(
        (part.strip().split(" ", 1) + [""])[:2]
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain http in tests


def test_a_page_carries_the_security_headers(client):
    assert_security_headers(client.get("/login"))


def test_an_api_response_carries_the_security_headers(client, admin_headers):
    assert_security_headers(client.get("/api/v1/grids", headers=admin_headers))
    assert_security_headers(client.get("/api/v1/grids"))  # a 401 problem


def test_a_static_file_carries_the_security_headers(client):
    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert_security_headers(response)
    response.close()


@pytest.mark.parametrize("headers", [HTML, {"Accept": "application/json"}])
def test_a_404_carries_the_security_headers(client, headers):
    response = client.get("/no/such/page", headers=headers)

    assert response.status_code == 404
    assert_security_headers(response)


def test_a_redirect_and_a_refused_form_carry_the_security_headers(client):
    redirect = client.get("/")
    assert redirect.status_code == 302
    assert_security_headers(redirect)
    refused = client.post("/login")
    assert refused.status_code == 400
    assert_security_headers(refused)


def test_the_templates_have_no_inline_script_or_style():
    for template in (ROOT / "app" / "templates").rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, template
        assert not re.search(r"<script\b[^>]*>[^<\s]", text), template
        assert not re.search(r"\sstyle\s*=", text), template
        assert "<style" not in text, template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "javascript:" not in text, template


# Cookies ------------------------------------------------------------------------------------


def session_cookie(app_or_client) -> str:
    client = app_or_client.test_client() if hasattr(app_or_client, "test_client") else app_or_client
    response = client.get("/login")
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "GET /login starts a session (its form's CSRF token)"
    return cookies[0]


def test_the_session_cookie_is_httponly_and_samesite_lax(client, admin):
    cookie = session_cookie(client)

    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over plain http
    login = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    for cookie in login.headers.getlist("Set-Cookie"):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    "config",
    [
        {"GREENPOINTS_ENV": "production"},
        {"BASE_URL": "https://jifen.example.cn"},
    ],
    ids=["production", "https base url"],
)
def test_cookies_are_secure_and_hsts_is_sent_when_served_over_https(config):
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://", **config})

    cookie = session_cookie(app)

    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    response = app.test_client().get("/login", base_url="https://jifen.example.cn")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_operator_may_switch_secure_cookies_off():
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "GREENPOINTS_ENV": "production",
            "SESSION_COOKIE_SECURE": False,
        }
    )

    assert "Secure" not in session_cookie(app)


# Swagger UI ---------------------------------------------------------------------------------


class Scripts(HTMLParser):
    """Collect the page's script tags, their bodies and any inline handlers or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, _value in attrs:
            if name.startswith("on") or name == "style":
                self.inline.append(f"{tag} {name}")
        if tag == "style":
            self.inline.append("style")
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(f"script body {data.strip()[:40]!r}")


def test_the_api_docs_page_has_no_inline_script(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    parser = Scripts()
    parser.feed(response.text)
    assert parser.inline == []
    sources = [script.get("src") for script in parser.scripts]
    assert all(sources), sources
    assert any(re.fullmatch(r"/static/js/swagger-init\.[0-9a-f]{12}\.js", s) for s in sources)
    for source in sources:
        script = client.get(source)
        assert script.status_code == 200, source
        script.close()
    assert 'data-spec-url="/api/v1/openapi.json"' in response.text
    assert_security_headers(response)
