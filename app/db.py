"""The declarative base, the session, and how a write transaction runs on each engine.

SQLite: pysqlite's own transaction handling is switched off so that SQLAlchemy
emits BEGIN itself; writes begin with BEGIN IMMEDIATE so that they queue on the
busy timeout instead of failing with SQLITE_BUSY when a read turns into a write.
WAL lets readers go on while one writer writes. PostgreSQL: READ COMMITTED; the
ledger's conditional UPDATEs take row locks in ascending id order.
"""

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache, wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import current_app, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Connection,
    Insert,
    Integer,
    MetaData,
    Numeric,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    column,
    event,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, make_transient_to_detached
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

from app.writer_queue import SQLITE_BUSY_TIMEOUT_MS, WriterQueue

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# The bind key of DATABASE_READ_URL's engine (a standby), and the request's mark that
# its reads may lag behind the primary.
REPLICA = "replica"
LAGGING_READS = "greenpoints.lagging_reads"


class Session(FlaskSession):
    """Flask-SQLAlchemy's session; a view marked reads_may_lag() reads from the replica.

    Only plain SELECTs move (no FOR UPDATE); writes, flushes and every read of a view
    that is not marked stay on the primary, so the ledger never decides on a stale
    read. Without DATABASE_READ_URL everything goes to the primary.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and _lagging_read(clause):
            replica = self._db.engines.get(REPLICA)
            if replica is not None:
                return replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _lagging_read(clause: Any) -> bool:
    return (
        isinstance(clause, Select)
        and clause._for_update_arg is None
        and has_request_context()
        and bool(request.environ.get(LAGGING_READS))
    )


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})

if TYPE_CHECKING:
    # mypy cannot see db.Model's dynamic base; to it, models are plain Base classes.
    Model = Base
else:
    Model = db.Model

T = TypeVar("T")


def reads_may_lag(view: Callable[..., T]) -> Callable[..., T]:
    """Let a read-only view (figures, exports) read from DATABASE_READ_URL's standby."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        # Kept with the request, not in g: a streamed export reads after the view returns.
        request.environ[LAGGING_READS] = True
        return view(*args, **kwargs)

    return wrapper


IMMEDIATE = "greenpoints_immediate"


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def configure_engine(engine: Engine) -> None:
    """Attach the per-connection settings each engine needs."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "handle_error", _read_only_is_a_disconnect)
        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    database = engine.url.database
    queue = WriterQueue(f"{database}-writer") if database and database != ":memory:" else None

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        immediate = conn.get_execution_options().get(IMMEDIATE)
        if not immediate:
            conn.exec_driver_sql("BEGIN")
            return
        if queue is not None:
            queue.enter(conn.connection)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if queue is not None:
                queue.leave(conn.connection)
            raise

    if queue is not None:

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _sqlite_end(conn):
            queue.leave(conn.connection)


def _read_only_is_a_disconnect(context: ExceptionContext) -> None:
    """Drop a connection to a node that turned read-only (a demoted primary), like a lost one.

    SQLSTATE 25006 on a write: the connection was made to the primary, and that node is
    now a standby. Marked as a disconnect, SQLAlchemy discards it and every connection
    pooled before it, so the next request connects afresh and target_session_attrs
    finds the new primary; this request answers 503 (app/errors.py).
    """
    if getattr(context.original_exception, "sqlstate", None) == "25006":
        context.is_disconnect = True


def is_transient(error: DBAPIError) -> bool:
    """Tell whether a database error is worth retrying with the same request."""
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in ("40001", "40P01"):  # serialization failure, deadlock
        return True
    if isinstance(error, OperationalError) and sqlstate is None:
        message = str(orig).lower()
        return "database is locked" in message or "database is busy" in message
    return False


@contextmanager
def snapshot_connection() -> Iterator[Connection]:
    """Lend a connection of its own that reads one snapshot of what is committed.

    PostgreSQL: REPEATABLE READ and read-only. SQLite: the first read begins the one
    read transaction, which WAL keeps consistent. Closing rolls it back.
    """
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        yield connection


def begin_write() -> None:
    """Begin a write transaction on the session.

    SQLite: end any read transaction and BEGIN IMMEDIATE; one that began so (before
    the bearer-token lookup of a view that writes) simply goes on. PostgreSQL: a read
    transaction already open (the bearer-token lookup) simply goes on: under READ
    COMMITTED each statement reads afresh, and the objects it loaded (the user)
    stay loaded instead of being expired and read again.
    """
    session = db.session()
    if (
        session.in_transaction()
        and not (session.new or session.dirty or session.deleted)
        and (
            db.engine.dialect.name == "postgresql"
            # SQLite: the write transaction began before the bearer-token lookup.
            or session.connection().get_execution_options().get(IMMEDIATE)
        )
    ):
        return
    session.rollback()
    session.connection(execution_options={IMMEDIATE: True})


def run_write(work: Callable[[], T], *, retries: int | None = None) -> T:
    """Run work() in one write transaction and commit; retry transient errors.

    work must be repeatable: it is called again from the start after a
    serialization failure, a deadlock or a busy SQLite database, so it reads
    everything it decides on inside the transaction.
    """
    attempts = retries if retries is not None else current_app.config["WRITE_RETRIES"]
    for attempt in range(attempts + 1):
        begin_write()
        try:
            result = work()
            db.session.commit()
            return result
        except DBAPIError as error:
            db.session.rollback()
            if attempt == attempts or not is_transient(error):
                raise
        except BaseException:
            db.session.rollback()
            raise
        time.sleep(min(0.005 * 2**attempt, 0.2))
    raise AssertionError("unreachable")


def insert_or_skip(table: Table) -> Insert:
    """An INSERT that skips a row colliding with a unique index, returning its id if new.

    INSERT ... ON CONFLICT DO NOTHING RETURNING id: no row back means the row was
    already there. No error, so no savepoint is needed around it. Built once per
    engine kind and table; execute it with the row as parameters.
    """
    return _insert_or_skip(db.engine.dialect.name, table)


@cache
def _insert_or_skip(dialect: str, table: Table) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing().returning(table.c.id)


class OneOf(ColumnElement[bool]):
    """column IN (the list given as the parameter named name), as each engine reads it best.

    PostgreSQL: column = ANY(:name), the list sent as one array, so the statement's
    text is the same for any length (built and parsed once, and prepared by psycopg).
    Elsewhere: SQLAlchemy's expanding IN, a placeholder for each value.
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # else SQLite gets (x IN (...)) = 1, which no index serves
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any], name: str):
        self.column = column.expression if isinstance(column, QueryableAttribute) else column
        self.name = name


@compiles(OneOf)
def _one_of(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(OneOf, "postgresql")
def _one_of_array(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    values = bindparam(element.name, type_=postgresql.ARRAY(element.column.type))
    return compiler.process(element.column == any_(values), **kw)


class ContainsText(ColumnElement[bool]):
    """column contains text, ignoring the case of Latin letters, on both engines.

    SQLite's LIKE already ignores that case and stays on it: SQLAlchemy's ILIKE there
    is lower(x) LIKE lower(y), slower over 20,000 households. PostgreSQL's LIKE does not
    ignore it, so it gets ILIKE: the same search on both (a phone types mz-01 for MZ-01).
    The text's %, _ and \\ are matched as themselves.
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # as OneOf: no "= 1" after it on SQLite
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any], text: str):
        self.column = column.expression if isinstance(column, QueryableAttribute) else column
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        self.pattern = bindparam(None, f"%{escaped}%", type_=Text())


@compiles(ContainsText)
def _contains_text(element: ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.like(element.pattern, escape="\\"), **kw)


@compiles(ContainsText, "postgresql")
def _contains_text_folded(element: ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.ilike(element.pattern, escape="\\"), **kw)


class microseconds_between(FunctionElement):  # noqa: N801 (used as a SQL function)
    """end - start in whole microseconds, exactly on both engines: (start, end) columns."""

    inherit_cache = True
    type = Numeric()


@compiles(microseconds_between, "postgresql")
def _microseconds_pg(element: microseconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((EXTRACT(EPOCH FROM {end}) - EXTRACT(EPOCH FROM {start})) * 1000000)"


@compiles(microseconds_between)
def _microseconds_sqlite(element: microseconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds, then the digits after.
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"((strftime('%s', {end}) - strftime('%s', {start})) * 1000000"
        f" + CAST(substr({end}, 21) AS INTEGER) - CAST(substr({start}, 21) AS INTEGER))"
    )


M = TypeVar("M", bound=Base)


def adopt(model: type[M], row_id: int, values: dict[str, Any]) -> M:
    """Adopt a row just inserted by a Core statement into the session, loaded from values.

    Every column not in values is None; nothing is read back from the database.
    """
    table = cast(Table, model.__table__)
    row = model(id=row_id, **{c.key: values.get(c.key) for c in table.columns if c.key != "id"})
    make_transient_to_detached(row)
    db.session.add(row)
    return row


class _json_rows(FunctionElement):
    """A JSON array of objects as a table: what JsonRows compiles to on each engine."""

    inherit_cache = True
    name = "json_rows"
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("names", InternalTraversal.dp_plain_obj),
        ("types", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, parameter: BindParameter, names: tuple[str, ...], types: tuple):
        self.names = names
        self.types = types
        super().__init__(parameter)


@compiles(_json_rows, "postgresql")
def _json_rows_postgresql(element: _json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    parameter = compiler.process(element.clauses, **kw)
    quote = compiler.preparer.quote
    columns = ", ".join(
        f"{quote(name)} {compiler.dialect.type_compiler_instance.process(type_)}"
        for name, type_ in zip(element.names, element.types, strict=True)
    )
    return f"ROWS FROM (json_to_recordset(CAST({parameter} AS json)) AS ({columns}))"


@compiles(_json_rows)
def _json_rows_sqlite(element: _json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    parameter = compiler.process(element.clauses, **kw)
    quote = compiler.preparer.quote
    columns = ", ".join(
        f"json_extract(value, '$.{name}') AS {quote(name)}" for name in element.names
    )
    return f"(SELECT {columns} FROM json_each({parameter}))"


class JsonRows:
    """Many rows sent as one parameter (a JSON array) and read as a table in a statement.

    The one place where the engines need their own SQL for a set-based write: the
    rows become `json_to_recordset()` on PostgreSQL and `json_each()` on SQLite, and
    the statement around them is plain SQLAlchemy Core that compiles on both. The
    statement's text is the same for any number of rows, so it is built, parsed (and
    on PostgreSQL prepared) once, where a VALUES list or an expanding IN is new text
    for each count of rows. Measured here (a 50-row INSERT ... RETURNING with its
    commit, best of 200): 3.4 ms against 6.4 ms for SQLAlchemy's insertmanyvalues on
    PostgreSQL, 0.65 against 0.92 ms on SQLite; one row costs the same either way.
    Each row carries its place in the list as the column `n`.
    """

    def __init__(self, name: str, /, **types: TypeEngine):
        self.name = name
        self.types = {**types, "n": Integer()}
        function = _json_rows(
            bindparam(name, type_=Text()), tuple(self.types), tuple(self.types.values())
        )
        self.table = function.table_valued(
            *(column(key, type_) for key, type_ in self.types.items())
        ).alias(name)
        self.c = self.table.c
        # Engine kind -> the columns' bind processors: fixed by the types and the kind.
        self._by_dialect: dict[str, list[tuple[str, Any]]] = {}

    def bind(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, str]:
        """Return the parameter that sends rows, each value as its column's type binds it."""
        processors = self._processors(connection.dialect)
        given = [
            {
                "n": n,
                **{
                    key: process(row[key]) if process is not None else row[key]
                    for key, process in processors
                    if key in row
                },
            }
            for n, row in enumerate(rows)
        ]
        return {self.name: json.dumps(given, default=_json_value, ensure_ascii=False)}

    def _processors(self, dialect: Dialect) -> list[tuple[str, Any]]:
        """The columns' bind processors on this engine kind (found once per kind)."""
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = [
                (key, type_.dialect_impl(dialect).bind_processor(dialect))
                for key, type_ in self.types.items()
                if key != "n"
            ]
            self._by_dialect[dialect.name] = found
        return found


def _json_value(value: Any) -> str:
    if isinstance(value, date):  # datetimes too: with their offset, as timestamptz reads them
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value JsonRows knows")


def insert_many(table: Table, rows: Sequence[dict[str, Any]], *, ids: bool = False) -> list[int]:
    """INSERT rows (each with the same columns) in one statement; their ids, in order, if asked.

    The rows go as one JsonRows parameter, in the order given; the ids they are given
    rise in that order, so sorted they are the rows' ids in order.
    """
    if not rows:
        return []
    connection = db.session.connection()
    json_rows, statement = _insert_from_json(table, tuple(rows[0]), ids)
    result = connection.execute(statement, json_rows.bind(connection, rows))
    return sorted(result.scalars()) if ids else []


@cache
def _insert_from_json(table: Table, columns: tuple[str, ...], ids: bool) -> tuple[JsonRows, Insert]:
    json_rows = JsonRows("rows", **{name: table.c[name].type for name in columns})
    statement = insert(table).from_select(
        list(columns),
        select(*(json_rows.c[name] for name in columns)).order_by(json_rows.c.n),
    )
    return json_rows, statement.returning(table.c.id) if ids else statement
