"""Take and restore backups; no Flask here, only the engine URL and a path."""

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy import URL, make_url

SQLITE_HEADER = b"SQLite format 3\0"
PGDUMP_HEADER = b"PGDMP"
SQLITE_BUSY_TIMEOUT_S = 30


class BackupFailed(Exception):
    """A backup or a restore could not be done; the message says why."""


def backend(engine_url: str | URL) -> str:
    """Return "sqlite" or "postgresql" for an engine URL, or refuse another database."""
    name = make_url(engine_url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupFailed(f"Backups support SQLite and PostgreSQL, not {name}.")
    return name


def create_backup(engine_url: str | URL, path: str | Path, force: bool = False) -> int:
    """Write a consistent backup of the database to path and return its size in bytes."""
    path = Path(path)
    if not path.parent.is_dir():
        raise BackupFailed(f"The folder {path.parent} does not exist.")
    if path.exists() and not force:
        raise BackupFailed(f"{path} exists; pass --force to overwrite it.")
    # Write beside the target and rename, so a failed backup never leaves half a file
    # under the real name (nor destroys the old backup it was to replace).
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if backend(engine_url) == "sqlite":
            _sqlite_backup(_sqlite_file(engine_url), partial)
        else:
            _pg_dump(engine_url, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path.stat().st_size


def check_backup_file(engine_url: str | URL, path: str | Path) -> None:
    """Refuse a file that is missing or is not a backup for this kind of database."""
    path = Path(path)
    if not path.is_file():
        raise BackupFailed(f"No backup file at {path}.")
    with path.open("rb") as file:
        head = file.read(len(SQLITE_HEADER))
    if backend(engine_url) == "sqlite":
        if not head.startswith(SQLITE_HEADER):
            kind = " (it looks like a PostgreSQL dump)" if head.startswith(PGDUMP_HEADER) else ""
            raise BackupFailed(f"{path} is not a SQLite database{kind}; this app runs on SQLite.")
    elif not head.startswith(PGDUMP_HEADER):
        kind = " (it looks like a SQLite database)" if head.startswith(SQLITE_HEADER) else ""
        raise BackupFailed(
            f"{path} is not a PostgreSQL custom-format dump{kind}; this app runs on PostgreSQL."
        )


def database_is_empty(engine_url: str | URL) -> bool:
    """Tell whether the SQLite database file is missing, empty or has no tables."""
    if backend(engine_url) != "sqlite":
        return False
    target = _sqlite_file(engine_url)
    if not target.exists() or target.stat().st_size == 0:
        return True
    with closing(sqlite3.connect(target, timeout=SQLITE_BUSY_TIMEOUT_S)) as connection:
        return connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def restore_backup(engine_url: str | URL, path: str | Path) -> None:
    """Replace the configured database's contents with the backup at path."""
    check_backup_file(engine_url, path)
    if backend(engine_url) == "sqlite":
        _sqlite_restore(Path(path), _sqlite_file(engine_url))
    else:
        _pg_restore(engine_url, Path(path))


# SQLite --------------------------------------------------------------------------------


def _sqlite_file(engine_url: str | URL) -> Path:
    database = make_url(engine_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupFailed("Backups need an SQLite database file, not an in-memory one.")
    return Path(database)


def _sqlite_backup(source_path: Path, target_path: Path) -> None:
    if not source_path.is_file():
        raise BackupFailed(f"No database at {source_path}.")
    try:
        with (
            closing(sqlite3.connect(source_path, timeout=SQLITE_BUSY_TIMEOUT_S)) as source,
            closing(sqlite3.connect(target_path)) as target,
        ):
            source.backup(target)
            # A self-contained file: no -wal/-shm beside it once it is closed.
            target.execute("PRAGMA journal_mode = DELETE")
            result = target.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as error:
        raise BackupFailed(f"SQLite backup failed: {error}") from error
    if result != "ok":
        raise BackupFailed(f"The copy failed SQLite's check: {result}")


def _sqlite_restore(backup_path: Path, target_path: Path) -> None:
    if not target_path.parent.is_dir():
        raise BackupFailed(f"The folder {target_path.parent} does not exist.")
    try:
        with (
            closing(sqlite3.connect(backup_path)) as source,
            closing(sqlite3.connect(target_path, timeout=SQLITE_BUSY_TIMEOUT_S)) as target,
        ):
            result = source.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise BackupFailed(f"{backup_path} failed SQLite's check: {result}")
            source.backup(target)
    except sqlite3.Error as error:
        raise BackupFailed(f"SQLite restore failed: {error}") from error


# PostgreSQL ----------------------------------------------------------------------------


def libpq_url(engine_url: str | URL) -> tuple[str, dict[str, str]]:
    """Return a libpq URL without the password, and an environment that carries it."""
    url = make_url(engine_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    query = dict(url.query)
    hosts = query.pop("host", None)
    if isinstance(hosts, str) and hosts.startswith("/"):
        query["host"], hosts = hosts, None  # a socket folder stays a parameter
    # url.set(password=None) keeps the password: build the URL again without it.
    conninfo = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=query,
    ).render_as_string(hide_password=False)
    if hosts:
        # SQLAlchemy names several hosts ?host=a:5432&host=b:5432 (README, Production);
        # libpq wants them in the address: postgresql://user@a:5432,b:5432/db.
        scheme, rest = conninfo.split("://", 1)
        user, _, path = rest.partition("/")
        listed = ",".join((hosts,) if isinstance(hosts, str) else hosts)
        conninfo = f"{scheme}://{user}{listed}/{path}"
    return conninfo, env


def _run(program: str, *args: str, env: dict[str, str]) -> str:
    executable = shutil.which(program)
    if executable is None:
        raise BackupFailed(
            f"{program} is not installed or not on PATH (install the PostgreSQL client tools)."
        )
    try:
        done = subprocess.run(
            [executable, *args], env=env, capture_output=True, text=True, check=False
        )
    except OSError as error:
        raise BackupFailed(f"{program} could not run: {error}") from error
    if done.returncode != 0:
        detail = done.stderr.strip() or f"exit code {done.returncode}"
        raise BackupFailed(f"{program} failed: {detail}")
    return done.stdout


def _pg_dump(engine_url: str | URL, target: Path) -> None:
    conninfo, env = libpq_url(engine_url)
    _run("pg_dump", "--format=custom", "--no-owner", "--file", str(target), conninfo, env=env)
    _run("pg_restore", "--list", str(target), env=env)


def _pg_restore(engine_url: str | URL, backup: Path) -> None:
    conninfo, env = libpq_url(engine_url)
    # One transaction: a restore that fails part way leaves the database as it was.
    _run(
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--dbname",
        conninfo,
        str(backup),
        env=env,
    )
