"""GET /healthz: ok while the database answers, 503 when it is gone."""


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_answers_503_when_the_database_is_gone(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.db import db

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "unavailable"
