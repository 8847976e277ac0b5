"""Where each user lands: the start page, the home page of each role, the admin's menu."""

from testsupport import HTML, PASSWORD, csrf_token, log_in

from app.auth.models import HOUSEHOLD, INSPECTOR


def test_start_page_sends_anonymous_visitors_to_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_anonymous_home_redirects_to_login(client):
    response = client.get("/home", headers=HTML)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_household_user_sees_its_balance_at_home(client, make_household, make_user):
    household = make_household(points=37)
    make_user(HOUSEHOLD, household=household, username="mxy")

    log_in(client, "mxy")
    home = client.get("/home", follow_redirects=True)

    assert "积分余额" in home.text
    assert ">37<" in home.text


def test_inspector_home_is_the_inspection_page(client, make_user):
    make_user(INSPECTOR, username="wgy")

    log_in(client, "wgy")

    assert "入户检查" in client.get("/home").text


def test_the_inspector_and_storekeeper_homes_lead_to_their_scanners(client, make_user):
    make_user("inspector", username="li")
    make_user("storekeeper", username="wang")
    client.post(
        "/login", data={"username": "li", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert 'href="/inspect"' in client.get("/home").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    client.post(
        "/login", data={"username": "wang", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert 'href="/shop"' in client.get("/home").get_data(as_text=True)


def test_every_admin_page_has_the_menu_and_home_keeps_the_api_for_developers(client, admin):
    log_in(client, "admin", english=True)
    for path in ("/admin/users", "/admin/audit", "/admin/households", "/admin/dashboard"):
        page = client.get(path).text
        assert "data-admin-menu" in page, path
        assert 'aria-current="page"' in page, path
        for link in ('href="/admin/users"', 'href="/admin/audit"', 'href="/admin/households"'):
            assert link in page, (path, link)
    home = client.get("/home").text
    tiles = home.split('class="tiles"')[1].split("</ul>")[0]
    assert "/api/v1/docs" not in tiles
    assert "For developers" in home and 'href="/api/v1/docs"' in home
