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
from testsupport import PASSWORD, TEST_CONFIG

from app import create_app
from app.auth.models import ADMIN, HOUSEHOLD, User
from app.auth.services import create_user, issue_token
from app.db import db
from app.households.models import Household
from app.households.services import create_household
from app.villages.models import Grid, Village
from app.villages.services import create_grid, create_village

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
        return {"Authorization": f"Bearer {issued.token}"}

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
