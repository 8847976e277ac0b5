"""flask backup create / restore, on SQLite and PostgreSQL."""

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy import make_url
from testsupport import TEST_CONFIG, assert_readable_failure

from app import create_app
from app.backup.services import BackupFailed, create_backup, libpq_url
from app.db import db
from app.ledger.services import adjust, balance, household_account

HEADERS = {"sqlite": b"SQLite format 3\0", "postgresql": b"PGDMP"}


def take_backup(runner, path: Path) -> None:
    result = runner.invoke(args=["backup", "create", str(path)])
    assert result.exit_code == 0, result.output
    assert str(path) in result.output and "bytes" in result.output


@pytest.fixture
def empty_app(app: Flask, tmp_path) -> Iterator[Flask]:
    """Another app on an empty database of the same kind, to restore into."""
    if app.config["TEST_BACKEND"] == "sqlite":
        restored = create_app(
            {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/restored.db"}
        )
        yield restored
        with restored.app_context():
            db.engine.dispose()
        return
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"gp_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        restored = create_app(
            {
                **TEST_CONFIG,
                "SQLALCHEMY_DATABASE_URI": url.set(database=name).render_as_string(
                    hide_password=False
                ),
            }
        )
        yield restored
        with restored.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def restore_into(target: Flask, path: Path):
    # A command runs in the current app context if there is one (the test's own app).
    with target.app_context():
        return target.test_cli_runner().invoke(args=["backup", "restore", str(path), "--yes"])


def household_balance(target: Flask, household_id: int) -> int:
    with target.app_context():
        return balance(household_account(household_id).id)


def test_create_writes_a_backup_of_the_database_kind(app, runner, make_household, tmp_path):
    make_household(points=5)
    path = tmp_path / "backup.bin"

    take_backup(runner, path)

    assert path.read_bytes().startswith(HEADERS[app.config["TEST_BACKEND"]])
    assert not list(tmp_path.glob("*.partial"))


def test_restore_brings_back_the_data_and_checks_the_ledger(
    app, runner, make_household, empty_app, tmp_path
):
    household = make_household(points=5)
    path = tmp_path / "backup.bin"
    take_backup(runner, path)

    result = restore_into(empty_app, path)

    assert result.exit_code == 0, result.output
    assert "ledger OK" in result.output
    assert household_balance(empty_app, household.id) == 5


def test_create_refuses_to_overwrite_without_force(runner, make_household, tmp_path):
    make_household(points=5)
    path = tmp_path / "backup.bin"
    path.write_bytes(b"keep me")

    result = runner.invoke(args=["backup", "create", str(path)])

    assert_readable_failure(result, "--force")
    assert path.read_bytes() == b"keep me"
    forced = runner.invoke(args=["backup", "create", str(path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert path.read_bytes() != b"keep me"


def test_create_refuses_a_missing_folder(runner, tmp_path):
    result = runner.invoke(args=["backup", "create", str(tmp_path / "nowhere" / "b.bin")])

    assert_readable_failure(result, "does not exist")


def test_restore_refuses_a_file_of_the_wrong_type(app, empty_app, tmp_path):
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(
        HEADERS["postgresql" if app.config["TEST_BACKEND"] == "sqlite" else "sqlite"] + b"\0" * 100
    )

    result = restore_into(empty_app, wrong)

    assert_readable_failure(result, "is not a")
    assert "looks like" in result.output


def test_restore_asks_before_replacing_data(app, runner, make_household, tmp_path):
    make_household(points=5)
    path = tmp_path / "backup.bin"
    take_backup(runner, path)

    result = runner.invoke(args=["backup", "restore", str(path)])

    assert_readable_failure(result, "--yes")


def test_create_says_when_pg_dump_is_missing_or_fails(app, runner, tmp_path, monkeypatch):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("PATH", str(tmp_path))

    result = runner.invoke(args=["backup", "create", str(tmp_path / "b.bin")])

    if app.config["TEST_BACKEND"] == "sqlite":
        assert result.exit_code == 0, result.output  # SQLite needs no outside tool
        return
    assert_readable_failure(result, "pg_dump is not installed")
    monkeypatch.undo()
    with pytest.raises(BackupFailed, match="pg_dump failed"):
        create_backup(url.set(database="gp_no_such_database"), tmp_path / "c.dump")
    assert not list(tmp_path.glob("c.dump*"))


def test_the_password_goes_in_the_environment_not_the_command_line():
    conninfo, env = libpq_url(
        "postgresql+psycopg://gp:s3cret@db.example:5433/greenpoints?sslmode=require"
    )

    assert conninfo == "postgresql://gp@db.example:5433/greenpoints?sslmode=require"
    assert env["PGPASSWORD"] == "s3cret"


def test_a_backup_taken_while_adjustments_are_posted_is_consistent(
    app, runner, make_household, empty_app, tmp_path
):
    household = make_household(points=5)
    village_id, household_id = household.village_id, household.id
    errors: list[BaseException] = []
    started = threading.Event()

    def keep_posting(post: Callable[[], object]) -> None:
        try:
            with app.app_context():
                for n in range(40):
                    post()
                    db.session.commit()
                    if n == 2:
                        started.set()
                db.session.remove()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
            started.set()

    writer = threading.Thread(
        target=keep_posting,
        args=(lambda: adjust(village_id, household_id, 1, reason="test", actor_id=None),),
    )
    writer.start()
    started.wait(10)
    path = tmp_path / "backup.bin"
    try:
        take_backup(runner, path)
    finally:
        writer.join()
    assert not errors

    result = restore_into(empty_app, path)

    assert result.exit_code == 0, result.output
    assert "ledger OK" in result.output
    restored = household_balance(empty_app, household_id)
    assert 5 <= restored <= 45
