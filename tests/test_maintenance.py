"""flask maintenance prune: dead tokens, old login failures and old replay records go."""

from datetime import timedelta

from sqlalchemy import func, select, update

from app.auth.models import ApiToken, LoginAttempt
from app.auth.services import issue_token
from app.db import db, utcnow
from app.idempotency import IdempotencyRecord
from app.maintenance.services import IDEMPOTENCY_FLOOR_HOURS, prune


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def age(model, row_id: int, by: timedelta) -> None:
    db.session.execute(update(model).where(model.id == row_id).values(created_at=utcnow() - by))
    db.session.commit()


def new_token(user, **values) -> tuple[str, int]:
    issued = issue_token(user)
    db.session.commit()
    row = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    if values:
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(**values))
        db.session.commit()
    return issued.token, row.id


def grid_call(client, token: str, key: str, name: str):
    return client.post(
        "/api/v1/grids",
        json={"name": name},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


def test_prune_removes_dead_tokens_and_keeps_live_ones(app, client, runner, admin):
    live, live_id = new_token(admin)
    _, expired_id = new_token(admin, expires_at=utcnow() - timedelta(minutes=1))
    _, revoked_id = new_token(admin, revoked_at=utcnow() - timedelta(hours=1))

    result = runner.invoke(args=["maintenance", "prune"])

    assert result.exit_code == 0, result.output
    assert "api_tokens: removed 2 (expired or revoked)" in result.output
    db.session.rollback()
    assert set(db.session.scalars(select(ApiToken.id))) == {live_id}
    assert expired_id != revoked_id
    assert (
        client.get("/api/v1/grids", headers={"Authorization": f"Bearer {live}"}).status_code == 200
    )


def test_prune_forgets_login_failures_older_than_the_longest_window(app, runner):
    longest = max(
        app.config.get("LOGIN_FAILURE_WINDOW_SECONDS") or 0,
        app.config.get("LOGIN_FAILURE_MEMORY_SECONDS") or 0,
    )
    rows = {}
    for name, seconds_ago in (("old", longest + 60), ("inside", longest - 60), ("new", 5)):
        attempt = LoginAttempt(username=name, address="203.0.113.9")
        db.session.add(attempt)
        db.session.commit()
        age(LoginAttempt, attempt.id, timedelta(seconds=seconds_ago))
        rows[name] = attempt.id

    result = runner.invoke(args=["maintenance", "prune"])

    assert result.exit_code == 0, result.output
    assert "login_attempts: removed 1 " in result.output
    db.session.rollback()
    assert set(db.session.scalars(select(LoginAttempt.username))) == {"inside", "new"}


def test_prune_keeps_replay_records_a_week_and_replay_still_works(
    app, client, runner, admin, token_for
):
    token = token_for(admin)["Authorization"].split()[1]
    assert grid_call(client, token, "old-key", "旧网格").status_code == 201
    assert grid_call(client, token, "fresh-key", "新网格").status_code == 201
    assert grid_call(client, token, "four-days", "四天网格").status_code == 201
    records = dict(db.session.execute(select(IdempotencyRecord.key, IdempotencyRecord.id)).all())
    age(IdempotencyRecord, records["old-key"], timedelta(days=8))
    age(IdempotencyRecord, records["four-days"], timedelta(hours=IDEMPOTENCY_FLOOR_HOURS - 1))

    result = runner.invoke(args=["maintenance", "prune"])

    assert result.exit_code == 0, result.output
    assert "idempotency_records: removed 1 (older than 168 h)" in result.output
    db.session.rollback()
    assert set(db.session.scalars(select(IdempotencyRecord.key))) == {"fresh-key", "four-days"}
    again = grid_call(client, token, "fresh-key", "新网格")
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert grid_call(client, token, "four-days", "四天网格").headers.get("Idempotent-Replayed")


def test_the_retention_setting_cannot_go_below_the_offline_queues_floor(app, admin, token_for):
    client = app.test_client()
    token = token_for(admin)["Authorization"].split()[1]
    assert grid_call(client, token, "three-days", "三天网格").status_code == 201
    (record_id,) = db.session.scalars(select(IdempotencyRecord.id)).all()
    age(IdempotencyRecord, record_id, timedelta(hours=73))
    app.config["IDEMPOTENCY_RETENTION_HOURS"] = 1

    pruned = {p.table: p for p in prune()}

    assert pruned["idempotency_records"].removed == 0
    assert pruned["idempotency_records"].rule == f"older than {IDEMPOTENCY_FLOOR_HOURS} h"
    db.session.rollback()
    assert count(IdempotencyRecord) == 1


def test_prune_works_in_small_batches(app, admin):
    for _ in range(7):
        new_token(admin, revoked_at=utcnow())

    pruned = {p.table: p.removed for p in prune(batch=3)}

    assert pruned["api_tokens"] == 7
    db.session.rollback()
    assert count(ApiToken) == 0
