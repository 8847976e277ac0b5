"""Fixtures: every test that touches the database runs on SQLite and on PostgreSQL.

SQLite: the schema is built once by the migrations into a template file, copied
fresh for each test. PostgreSQL: the run creates its own database from
TEST_DATABASE_URL's server, migrates it once, empties every table after each
test (TRUNCATE, which the append-only triggers do not refuse) and drops the
database at the end. If PostgreSQL cannot be reached the run stops loudly.
"""

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import URL, make_url, text
from testsupport import PASSWORD, TEST_CONFIG, bearer, log_in

from app import create_app
from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER, User, UserGrid
from app.auth.services import create_user, issue_token
from app.catalogue import services as catalogue
from app.catalogue.models import Good
from app.db import db
from app.households.models import Household
from app.households.services import create_household
from app.office.services import create_village
from app.villages.models import Grid, Village
from app.villages.services import create_grid

__all__ = ["PASSWORD", "TEST_CONFIG"]

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = [
    b for b in os.environ.get("GREENPOINTS_TEST_DATABASES", "sqlite,postgresql").split(",") if b
]


def _admin_conninfo() -> tuple[URL, str]:
    url = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))
    return url, url.set(drivername="postgresql").render_as_string(hide_password=False)


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url, conninfo = _admin_conninfo()
    name = f"gp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.exit(
            f"PostgreSQL is not reachable at {url.render_as_string()} ({error}).\n"
            "Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
            "start) or point TEST_DATABASE_URL at a server. The tests never skip it.",
            returncode=3,
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    test_url = url.set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(test_url)
        yield test_url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_all(app: Flask) -> None:
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path) -> Iterator[Flask]:
    """A fresh app on a fresh database, SQLite or PostgreSQL."""
    backend = request.param
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
    elif backend == "postgresql":
        config = {
            "SQLALCHEMY_DATABASE_URI": request.getfixturevalue("postgres_url"),
            # Room for the race tests' concurrent connections.
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 40, "max_overflow": 10},
        }
    else:
        raise ValueError(f"unknown test database {backend!r}")
    app = create_app({**TEST_CONFIG, **config})
    app.config["TEST_BACKEND"] = backend
    with app.app_context():
        yield app
        db.session.remove()
        if backend == "postgresql":
            _truncate_all(app)
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def make_village(app: Flask) -> Callable[..., Village]:
    counter = iter(range(1, 10_000))

    def make(name: str | None = None, code: str | None = None, **kwargs) -> Village:
        n = next(counter)
        village = create_village(name or f"测试村{n}", code or f"V{n}", **kwargs)
        db.session.commit()
        return village

    return make


@pytest.fixture
def village(make_village) -> Village:
    return make_village("马庄村", "MZ")


@pytest.fixture
def make_grid(app: Flask, village: Village) -> Callable[..., Grid]:
    def make(name: str | None = None, *, of: Village | None = None) -> Grid:
        target = of or village
        grid = create_grid(target.id, name or f"网格{uuid.uuid4().hex[:6]}")
        db.session.commit()
        return grid

    return make


@pytest.fixture
def grid(make_grid) -> Grid:
    return make_grid("东一网格")


@pytest.fixture
def make_household(app: Flask, village: Village, grid: Grid) -> Callable[..., Household]:
    def make(
        *, of: Village | None = None, in_grid: Grid | None = None, points: int = 0, **overrides
    ) -> Household:
        target = of or village
        target_grid = in_grid or (
            grid
            if target.id == village.id
            else create_grid(target.id, f"网格{uuid.uuid4().hex[:6]}")
        )
        fields = {"name": "马秀英", "address": "马庄村1组 幸福路8号", **overrides}
        household = create_household(
            target, target_grid, fields.pop("name"), fields.pop("address"), **fields
        )
        if points:
            from app.ledger.services import adjust

            adjust(target.id, household.id, points, reason="opening balance", actor_id=None)
        db.session.commit()
        return household

    return make


@pytest.fixture
def household(make_household) -> Household:
    return make_household()


@pytest.fixture
def make_user(app: Flask, village: Village) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(
        role: str = ADMIN,
        *,
        of: Village | None = None,
        household: Household | None = None,
        username: str | None = None,
    ) -> User:
        target = of or village
        user = create_user(
            target, username or f"{role}{next(counter)}", PASSWORD, role, household=household
        )
        db.session.commit()
        return user

    return make


@pytest.fixture
def token_for(app: Flask) -> Callable[[User], dict[str, str]]:
    """Return Authorization headers carrying a fresh bearer token for the user."""

    def make(user: User) -> dict[str, str]:
        issued = issue_token(user)
        db.session.commit()
        return bearer(issued.token)

    return make


@pytest.fixture
def admin(make_user) -> User:
    return make_user(ADMIN, username="admin")


@pytest.fixture
def admin_headers(admin, token_for) -> dict[str, str]:
    return token_for(admin)


@pytest.fixture
def resident(make_user, household) -> User:
    return make_user(HOUSEHOLD, household=household, username="resident")


@pytest.fixture
def admin_client(client, admin) -> FlaskClient:
    """The admin's browser: logged in through the login form, pages in English."""
    log_in(client, "admin", english=True)
    return client


@pytest.fixture
def resident_headers(resident, token_for) -> dict[str, str]:
    return token_for(resident)


@pytest.fixture
def inspector(make_user) -> User:
    return make_user(INSPECTOR, username="inspector")


@pytest.fixture
def inspector_headers(inspector, token_for) -> dict[str, str]:
    return token_for(inspector)


@pytest.fixture
def worker(make_user, grid) -> User:
    """The grid worker of 东一网格 (an inspector assigned to it), where `household` lives."""
    user = make_user(INSPECTOR, username="worker")
    db.session.add(UserGrid(user_id=user.id, grid_id=grid.id))
    db.session.commit()
    return user


@pytest.fixture
def worker_headers(worker, token_for) -> dict[str, str]:
    return token_for(worker)


@pytest.fixture
def storekeeper(make_user) -> User:
    return make_user(STOREKEEPER, username="storekeeper")


@pytest.fixture
def storekeeper_headers(storekeeper, token_for) -> dict[str, str]:
    return token_for(storekeeper)


@pytest.fixture
def other_village(make_village) -> Village:
    return make_village("李庄村", "LZ")


@pytest.fixture
def grids(grid, make_grid) -> tuple[Grid, Grid]:
    """东一网格 (number 1) and 西一网格 (number 2)."""
    return grid, make_grid("西一网格")


@pytest.fixture
def photo_folder(app: Flask, tmp_path) -> Path:
    """Keep uploaded photos in the test's own folder, never under instance/.

    Files that upload pictures use it for every test: pytestmark = usefixtures("photo_folder").
    """
    folder = tmp_path / "photos"
    app.config["PHOTO_FOLDER"] = str(folder)
    return folder


# Households through the API ----------------------------------------------------------------


@pytest.fixture
def create(client, admin_headers) -> Callable:
    """Add a household through the API as the admin; return the response."""

    def post(grid, name="马秀英", address="马庄村1组 幸福路8号", headers=None, **extra):
        return client.post(
            "/api/v1/households",
            json={"name": name, "address": address, "grid_id": grid.id, **extra},
            headers=headers or admin_headers,
        )

    return post


@pytest.fixture
def patch(client, admin_headers) -> Callable:
    """Change a household through the API as the admin; return the response."""

    def send(household, changes, headers=None):
        return client.patch(
            f"/api/v1/households/{household.id}", json=changes, headers=headers or admin_headers
        )

    return send


@pytest.fixture
def listing(client, admin_headers) -> Callable:
    """List households through the API as the admin; return the page's JSON."""

    def get(**query):
        response = client.get("/api/v1/households", query_string=query, headers=admin_headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json

    return get


@pytest.fixture
def roster(make_household, grids) -> list[Household]:
    """Five households: three in grid 1, two in grid 2."""
    east, west = grids
    return [
        make_household(name="马秀英", address="幸福路8号", phone="138-1234-5678"),
        make_household(name="王建国", address="和平路12号", phone="13900001111"),
        make_household(name="李桂兰", address="幸福路9号", phone=None),
        make_household(in_grid=west, name="赵红梅", address="人民路1号", phone="13700000000"),
        make_household(in_grid=west, name="Wang Fang", address="西街100%号"),
    ]


# Inspections through the API ---------------------------------------------------------------


@pytest.fixture
def inspect(client, inspector_headers) -> Callable:
    """Post an inspection (as the inspector unless told); return the response."""

    def post(household=None, grade="A", *, key=None, headers=None, **body):
        if household is not None:
            body.setdefault("household_id", household.id)
        extra = {"Idempotency-Key": key} if key is not None else {}
        return client.post(
            "/api/v1/inspections",
            json={"grade": grade, **body},
            headers={**(headers or inspector_headers), **extra},
        )

    return post


@pytest.fixture
def put_rules(client, admin_headers) -> Callable:
    """Replace the village's scoring rules (as the admin unless told); return the response."""

    def put(body, headers=None):
        return client.put("/api/v1/rules", json=body, headers=headers or admin_headers)

    return put


@pytest.fixture
def adjust(client, admin_headers):
    """Post an adjustment as the admin; return the response."""

    def post(household, amount, reason="纠正", *, key=None, headers=None):
        extra = {"Idempotency-Key": key} if key is not None else {}
        return client.post(
            "/api/v1/adjustments",
            json={"household_id": household.id, "amount": amount, "reason": reason},
            headers={**(headers or admin_headers), **extra},
        )

    return post


# The shop: goods, redemptions, cancels -------------------------------------------------------


@pytest.fixture
def make_good(app: Flask, village: Village) -> Callable[..., Good]:
    counter = iter(range(1, 10_000))

    def make(
        name: str | None = None,
        *,
        price: int = 5,
        stock: int = 10,
        unit: str = "个",
        of: Village | None = None,
        low_stock: int = 5,
        active: bool = True,
    ) -> Good:
        target = of or village
        good = catalogue.create_good(
            target.id,
            name=name or f"商品{next(counter)}",
            unit=unit,
            price_points=price,
            stock=stock,
            low_stock=low_stock,
        )
        if not active:
            catalogue.update_good(good, {"active": False})
        db.session.commit()
        return good

    return make


@pytest.fixture
def soap(make_good) -> Good:
    return make_good("肥皂", price=5, stock=10, unit="块")


@pytest.fixture
def oil(make_good) -> Good:
    return make_good("食用油", price=12, stock=3, unit="瓶")


@pytest.fixture
def redeem(client, storekeeper_headers) -> Callable:
    """Post a redemption; lines are (good or good id, quantity) pairs."""

    def post(household=None, *lines, key=None, headers=None, **body):
        if household is not None:
            body.setdefault("household_id", household.id)
        body.setdefault(
            "lines",
            [
                {"good_id": getattr(good, "id", good), "quantity": quantity}
                for good, quantity in lines
            ],
        )
        extra = {"Idempotency-Key": key} if key is not None else {}
        return client.post(
            "/api/v1/redemptions", json=body, headers={**(headers or storekeeper_headers), **extra}
        )

    return post


@pytest.fixture
def cancel(client, storekeeper_headers) -> Callable:
    """Cancel a redemption (as the storekeeper unless told); return the response."""

    def post(redemption_id, reason="退货", *, headers=None, key=None):
        extra = {"Idempotency-Key": key} if key is not None else {}
        return client.post(
            f"/api/v1/redemptions/{redemption_id}/cancel",
            json={"reason": reason},
            headers={**(headers or storekeeper_headers), **extra},
        )

    return post
