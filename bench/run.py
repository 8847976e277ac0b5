"""Issue 8's benchmark, end to end: seed, pgbench, load the write endpoints, scale, report.

PostgreSQL: a fresh database bench_greenpoints (schema by `flask db upgrade`, a village
of 30,000 households seeded by bench.seed, proven by `ledger verify`); pgbench
tpcb-like on bench_pgbench of the same server as the yardstick; a short sweep of
gunicorn configurations picks the one that serves every measured run; wrk drives
inspections and redemptions at each number of connections; then the ledger grows by
100 households of 10,000 movements and the reads are timed again, and `ledger verify`
is timed over all of it. SQLite: the same village in a fresh file, inspections only.
Both databases are dropped at the end (BENCH_KEEP=1 keeps them).
"""

import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import create_app
from app.checks import verify_all
from app.db import db
from bench import report, seed
from bench.load import (
    BATCH,
    CASES,
    HEALTHZ,
    INSPECTIONS,
    REDEMPTIONS,
    RESOLVES,
    Target,
    WrkResult,
    run_pgbench,
    run_wrk,
)
from bench.profile import profile_endpoint
from bench.scale import time_reads
from bench.server import SECRET_KEY, Server, app_environment, log_in, process_cpu, request
from bench.settings import BENCH, ROOT, ServerConfig, Settings

WARM_UP_SECONDS = 2
# The tables whose few rows every write updates (hot rows).
HOT_TABLES = "accounts, goods, receipt_counters"
# Tables every write adds rows to: autovacuum analyzes them as they grow, so the planner
# knows their size (a table last analyzed empty looks empty to it).
GROWING_TABLES = (
    "idempotency_records, inspections, journals, transfers, entries, redemptions, "
    "redemption_lines, stock_movements"
)


def say(message: str) -> None:
    print(message, flush=True)


class Clock:
    """Wall-clock seconds of each named phase, for the report."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        started = time.monotonic()
        yield
        self.phases[name] = time.monotonic() - started

    @property
    def total(self) -> float:
        return time.monotonic() - self.started


class Postgres:
    """Creates and drops the benchmark's own databases (bench_* only)."""

    def __init__(self, url: str):
        self.url = make_url(url)
        self.host = self.url.host or "127.0.0.1"
        self.port = self.url.port or 5432
        self.user = self.url.username or "postgres"

    def _admin(self):
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def version(self) -> str:
        with self._admin() as connection:
            return connection.execute("SHOW server_version").fetchone()[0]

    def create(self, name: str) -> str:
        assert name.startswith("bench_")
        self.drop(name)
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def backend_cpu(self, name: str) -> dict[int, float]:
        """CPU seconds so far of each server process connected to database `name`."""
        with self._admin() as connection:
            pids = [
                row[0]
                for row in connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
                )
            ]
        return process_cpu(pids)

    def vacuum(self, name: str, tables: str) -> None:
        """VACUUM ANALYZE some tables of database `name`."""
        self._run(name, f"VACUUM (ANALYZE) {tables}")

    def analyze(self, name: str, tables: str) -> None:
        """ANALYZE some tables of database `name`."""
        self._run(name, f"ANALYZE {tables}")

    def _run(self, name: str, command: str) -> None:
        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=name, autocommit=True
        ) as connection:
            connection.execute(command)

    def drop(self, name: str) -> None:
        assert name.startswith("bench_")
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flask_db_upgrade(database_url: str, port: int) -> None:
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=app_environment(database_url, port),
        check=True,
        capture_output=True,
    )


def make_app(database_url: str, port: int) -> Flask:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": SECRET_KEY,
            "BASE_URL": f"http://127.0.0.1:{port}",
            "GREENPOINTS_ENV": "production",
        }
    )


def check_tools() -> None:
    missing = [tool for tool in ("wrk", "pgbench") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"The benchmark needs {' and '.join(missing)}: sudo apt-get install wrk")


def prove(app: Flask, what: str) -> tuple[float, int]:
    """Run `ledger verify` over everything; stop the benchmark if it finds a problem."""
    with app.app_context():
        started = time.perf_counter()
        result = verify_all()
        seconds = time.perf_counter() - started
        db.session.remove()
    if not result.ok:
        for problem in result.problems[:20]:
            say(f"  PROBLEM [{problem.check}] {problem.detail}")
        raise RuntimeError(f"ledger verify failed after {what}: {len(result.problems)} problems")
    say(
        f"  ledger verify OK after {what}: {result.transactions} transactions, "
        f"{result.postings} entries in {seconds:.2f} s"
    )
    return seconds, result.postings


def seed_village(app: Flask, settings: Settings, results: report.Results, engine: str):
    """The village, the 30,000 households with opening balances, the catalogue."""
    with app.app_context():
        started = time.perf_counter()
        village = seed.create_bench_village(settings.goods)
        households = seed.seed_households(
            village, settings.grids, settings.households, opening=settings.opening_points
        )
        seed.seed_yesterday(village, households)
        seed.seed_case_users(households)
        seconds = time.perf_counter() - started
        db.session.remove()
    results.seed_seconds[engine] = seconds
    say(f"  seeded {settings.households} households and {settings.goods} goods in {seconds:.1f} s")
    return village, households


def prepare_target(port: int, village: seed.BenchVillage, households: seed.Households) -> Target:
    """Log in as the staff over the API and let each household be inspected 10 times a day."""
    users = {**seed.USERS, **seed.CASE_USERS}
    tokens = {role: log_in(port, username, seed.PASSWORD) for role, username in users.items()}
    status, body = request(port, "PUT", "/api/v1/rules", token=tokens["admin"], body=seed.RULES)
    if status != 200:
        raise RuntimeError(f"PUT /api/v1/rules answered {status}: {body}")
    return Target(
        port=port,
        first_household=households.first_id,
        households=households.count,
        good_ids=village.good_ids,
        tokens={
            INSPECTIONS: tokens["inspector"],
            REDEMPTIONS: tokens["storekeeper"],
            BATCH: tokens["inspector"],
            CASES: tokens["resident"],
            RESOLVES: tokens["worker"],
        },
        next_number={INSPECTIONS: 0, REDEMPTIONS: 0, BATCH: 0, CASES: 0, RESOLVES: 0},
    )


def show(result: WrkResult, pgbench_tps: float | None) -> None:
    ratio = f", {result.rate / pgbench_tps:.2f} x pgbench" if pgbench_tps else ""
    app_cpu = f"app CPU {result.app_cpu_ms:.1f} ms/request, " if result.app_cpu_ms else ""
    if result.database_cpu_ms:
        app_cpu += f"PostgreSQL CPU {result.database_cpu_ms:.1f} ms/request, "
    say(
        f"  {result.label:<28} {result.rate:7.1f}/s  p50 {result.p50_ms:6.1f} ms  "
        f"p99 {result.p99_ms:6.1f} ms  errors {result.errors}{ratio}  "
        f"({app_cpu}wrk {100 * result.wrk_cpu_share:.0f}% of a core)"
    )
    for sample in result.error_samples[:3]:
        say(f"    error: {sample}")


def sweep(
    settings: Settings, database_url: str, target: Target, workdir: Path, results: report.Results
) -> ServerConfig:
    """Try each gunicorn configuration on inspections; return the fastest error-free one."""
    if settings.server is not None:
        return settings.server
    say(
        f"Choosing gunicorn's configuration: inspections at {settings.sweep_connections} "
        f"connections, {settings.sweep_duration} s each"
    )
    for config in settings.sweep:
        with Server(config, database_url, settings.port, workdir / "gunicorn-sweep.log") as server:
            run_wrk(target, INSPECTIONS, settings.sweep_connections, 1, "warm-up", 2)
            result = server.measure(
                lambda label=f"sweep {config.label}": run_wrk(
                    target,
                    INSPECTIONS,
                    settings.sweep_connections,
                    settings.sweep_duration,
                    label,
                    settings.wrk_threads,
                )
            )
        results.sweep.append((config, result))
        show(result, results.pgbench.tps if results.pgbench else None)
    clean = [(c, r) for c, r in results.sweep if r.errors == 0] or results.sweep
    return max(clean, key=lambda pair: pair[1].rate)[0]


def run_postgresql(
    settings: Settings, postgres: Postgres, workdir: Path, results: report.Results, clock: Clock
) -> None:
    say(f"PostgreSQL {results.machine['postgresql']}: database {settings.app_database}")
    with clock.phase("postgresql: schema and seed"):
        database_url = postgres.create(settings.app_database)
        flask_db_upgrade(database_url, settings.port)
        app = make_app(database_url, settings.port)
        village, households = seed_village(app, settings, results, "postgresql")
        with app.app_context():
            reference = seed.seed_households(village, 1, 1, opening=0, grid_prefix="Reference")
            seed.seed_history(village, reference, settings.reference_movements)
            db.session.remove()
            # What autovacuum does after a bulk load (and this server may run without it):
            # statistics for the planner, so that the hot path is planned on real figures.
            vacuum_analyze()
        prove(app, "seeding")

    with clock.phase("pgbench"):
        say(
            f"pgbench tpcb-like: scale {settings.pgbench_scale}, {settings.pgbench_clients} "
            f"clients, {settings.pgbench_duration} s on {settings.pgbench_database}"
        )
        postgres.create(settings.pgbench_database)
        try:
            results.pgbench = run_pgbench(
                postgres.host,
                postgres.port,
                postgres.user,
                settings.pgbench_database,
                scale=settings.pgbench_scale,
                clients=settings.pgbench_clients,
                seconds=settings.pgbench_duration,
            )
        finally:
            postgres.drop(settings.pgbench_database)
        say(
            f"  {results.pgbench.tps:.0f} tps, latency {results.pgbench.latency_ms:.2f} ms "
            f"(init {results.pgbench.init_seconds:.1f} s)"
        )

    with clock.phase("gunicorn sweep"):
        first = settings.server or settings.sweep[0]
        with Server(first, database_url, settings.port, workdir / "gunicorn.log"):
            target = prepare_target(settings.port, village, households)
        config = sweep(settings, database_url, target, workdir, results)
        results.server = config
        say(f"Serving with gunicorn {config.label}")

    server = Server(config, database_url, settings.port, workdir / "gunicorn.log")
    try:
        with clock.phase("postgresql: load"):
            server.start()
            run_wrk(target, INSPECTIONS, settings.goal_connections, WARM_UP_SECONDS, "warm-up", 2)
            for connections in settings.connections:
                for mode in (INSPECTIONS, REDEMPTIONS, BATCH):
                    result = server.measure(
                        lambda mode=mode, connections=connections: run_wrk(
                            target,
                            mode,
                            connections,
                            settings.batch_duration if mode == BATCH else settings.duration,
                            f"postgresql {mode} c={connections}",
                            settings.wrk_threads,
                        ),
                        lambda: postgres.backend_cpu(settings.app_database),
                    )
                    results.postgresql.append(result)
                    show(result, results.pgbench.tps)
                    # This server may run without autovacuum: do what it would do to the
                    # rows every write updates (the village's system accounts, the goods),
                    # so that a run does not pay for the dead versions left by the last,
                    # and to the tables that grew, so that the planner knows their size.
                    postgres.vacuum(settings.app_database, HOT_TABLES)
                    postgres.analyze(settings.app_database, GROWING_TABLES)
            results.floor = server.measure(
                lambda: run_wrk(
                    target,
                    HEALTHZ,
                    settings.goal_connections,
                    settings.duration,
                    f"postgresql healthz c={settings.goal_connections}",
                    settings.wrk_threads,
                ),
                lambda: postgres.backend_cpu(settings.app_database),
            )
            show(results.floor, None)
        if settings.scale:
            with clock.phase("scale"):
                scale_phase(settings, app, village, target, reference.first_id, results)
    finally:
        server.stop()

    if settings.profile:
        with clock.phase("profile"):
            say(f"Profiling {settings.profile_requests} requests of each endpoint in-process")
            for mode in (INSPECTIONS, REDEMPTIONS, CASES, RESOLVES):
                summary = profile_endpoint(
                    app, target, mode, settings.profile_requests, BENCH / f"profile-{mode}.txt"
                )
                results.profiles.append(summary)
                say(
                    f"  {mode}: {summary.plain_ms_per_request:.2f} ms a request "
                    f"({summary.cpu_ms_per_request:.2f} ms CPU), "
                    f"{summary.statements_per_request:.1f} SQL statements; profiled "
                    f"{summary.ms_per_request:.2f} ms, {summary.database_ms_per_request:.2f} ms "
                    f"of it in the driver -> {summary.path.relative_to(ROOT)}"
                )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def vacuum_analyze() -> None:
    """VACUUM ANALYZE the app's database (in an app context)."""
    connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    connection.execute(text("VACUUM ANALYZE"))
    connection.close()


def scale_phase(
    settings: Settings,
    app: Flask,
    village: seed.BenchVillage,
    target: Target,
    reference_id: int,
    results: report.Results,
) -> None:
    token = target.tokens[INSPECTIONS]
    say(f"Scale: reads of a household with {settings.reference_movements} entries")
    results.reads_before = time_reads(
        settings.port,
        token,
        [
            (
                f"{settings.reference_movements} entries, before growth",
                reference_id,
                settings.reference_movements,
            )
        ],
        settings.reads,
    )[0]
    say(f"  {report.reads_line(results.reads_before)}")
    heavy_total = settings.heavy_households * settings.heavy_movements
    say(
        f"  growing the ledger by {settings.heavy_households} households x "
        f"{settings.heavy_movements} movements ({heavy_total} movements)"
    )
    with app.app_context():
        started = time.perf_counter()
        heavy = seed.seed_households(
            village, 1, settings.heavy_households, opening=0, grid_prefix="Heavy"
        )
        results.heavy_entries = seed.seed_history(village, heavy, settings.heavy_movements)
        results.heavy_seed_seconds = time.perf_counter() - started
        started = time.perf_counter()
        # What autovacuum would do soon after a bulk load: fresh statistics for the planner.
        vacuum_analyze()
        results.analyze_seconds = time.perf_counter() - started
        db.session.remove()
    say(
        f"  wrote {results.heavy_entries} entries in {results.heavy_seed_seconds:.1f} s, "
        f"VACUUM ANALYZE {results.analyze_seconds:.1f} s"
    )
    results.reads_after = time_reads(
        settings.port,
        token,
        [
            (
                f"{settings.reference_movements} entries, after growth",
                reference_id,
                settings.reference_movements,
            ),
            (
                f"{settings.heavy_movements} entries, after growth",
                heavy.first_id,
                settings.heavy_movements,
            ),
        ],
        settings.reads,
    )
    for reads in results.reads_after:
        say(f"  {report.reads_line(reads)}")
    results.verify_seconds, results.verify_entries = prove(app, "growing the ledger")


def run_sqlite(settings: Settings, workdir: Path, results: report.Results, clock: Clock) -> None:
    path = workdir / "bench.db"
    database_url = f"sqlite:///{path}"
    say(f"SQLite: {path}")
    with clock.phase("sqlite: schema and seed"):
        flask_db_upgrade(database_url, settings.port)
        app = make_app(database_url, settings.port)
        village, households = seed_village(app, settings, results, "sqlite")
        prove(app, "seeding")
    assert results.server is not None
    with clock.phase("sqlite: load"):
        log = workdir / "gunicorn-sqlite.log"
        with Server(results.server, database_url, settings.port, log) as server:
            target = prepare_target(settings.port, village, households)
            run_wrk(target, INSPECTIONS, settings.goal_connections, WARM_UP_SECONDS, "warm-up", 2)
            for connections in settings.sqlite_connections:
                result = server.measure(
                    lambda connections=connections: run_wrk(
                        target,
                        INSPECTIONS,
                        connections,
                        settings.duration,
                        f"sqlite inspections c={connections}",
                        settings.wrk_threads,
                    )
                )
                results.sqlite.append(result)
                show(result, results.pgbench.tps if results.pgbench else None)
        prove(app, "the SQLite load")
    with app.app_context():
        db.engine.dispose()


def main() -> None:
    check_tools()
    settings = Settings()
    clock = Clock()
    postgres = Postgres(settings.pg_url)
    try:
        version = postgres.version()
    except psycopg.OperationalError as error:
        sys.exit(
            f"PostgreSQL does not answer at {postgres.host}:{postgres.port} ({error}). Start it "
            "(README: pg_ctlcluster ... main start) or point BENCH_PG_URL at a server."
        )
    results = report.Results(settings=settings, machine=report.describe_machine(version))
    say(report.machine_line(results.machine))
    workdir = Path(tempfile.mkdtemp(prefix="greenpoints-bench-"))
    try:
        run_postgresql(settings, postgres, workdir, results, clock)
        if settings.sqlite:
            run_sqlite(settings, workdir, results, clock)
    finally:
        if not settings.keep:
            postgres.drop(settings.app_database)
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"Kept database {settings.app_database} and {workdir}")
    results.phases = dict(clock.phases)
    results.total_seconds = clock.total
    results.machine["load_after"] = report.load_average()
    text_ = report.render(results)
    settings.results.write_text(text_)
    say("")
    say(text_)
    say(f"Wrote {settings.results}")
