"""When the database is gone, every request answers 503 quickly, never a traceback."""

import pytest
from testsupport import TEST_CONFIG

from app import create_app

# Nothing listens on port 1: connecting fails at once, like a stopped server.
DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


@pytest.fixture
def dead_app():
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": DEAD_POSTGRES})
    yield app
    with app.app_context():
        from app.db import db

        db.engine.dispose()


def test_health_answers_503(dead_app):
    response = dead_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["code"] == "unavailable"


def test_the_api_answers_503_problem_json(dead_app):
    response = dead_app.test_client().post(
        "/api/v1/auth/tokens", json={"username": "admin", "password": "whatever-1"}
    )
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "unavailable"
    assert response.headers["Retry-After"] == "5"
    assert "Traceback" not in response.get_data(as_text=True)
    # A connection lost during COMMIT leaves the write's fate unknown: the answer says
    # to send it again with its key, never that nothing was changed.
    assert "same Idempotency-Key" in response.json["detail"]
    assert "Nothing was changed" not in response.json["detail"]


def test_a_page_answers_a_friendly_503(dead_app):
    client = dead_app.test_client()
    with client.session_transaction() as session:
        session["user_id"] = 1
    response = client.get("/home", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_read_only_database_refuses_writes_clearly(sqlite_template, tmp_path):
    """A read-only database (a full disk, a remounted volume) answers 503, writes nothing."""
    import shutil

    path = tmp_path / "readonly.db"
    shutil.copy(sqlite_template, path)
    writable = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with writable.app_context():
        from app.auth.services import create_user
        from app.db import db
        from app.office.services import create_village

        create_user(create_village("马庄村", "MZ"), "admin", "long-password", "admin")
        db.session.commit()
        db.engine.dispose()
    readonly = create_app(
        {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///file:{path}?mode=ro&uri=true"}
    )
    client = readonly.test_client()
    assert client.get("/healthz").status_code == 200  # reads still work
    response = client.post(
        "/api/v1/auth/tokens", json={"username": "admin", "password": "long-password"}
    )
    assert response.status_code == 503
    assert response.json["code"] == "unavailable"
    with readonly.app_context():
        from sqlalchemy import func, select

        from app.auth.models import ApiToken
        from app.db import db

        assert db.session.scalar(select(func.count(ApiToken.id))) == 0
        db.engine.dispose()
