"""Lose a database server, lose no point (DESIGN.md, Availability).

The `ha` tests start a real pg_auto_failover cluster with `make ha-up` (a monitor, a
primary and its synchronous standby on 127.0.0.1), serve the app from it with
gunicorn, drive credits and redemptions from 4 threads that retry with the same
Idempotency-Key, and kill a node with `make ha-kill-standby` or `make ha-kill-primary`
mid-load. `make ha-down` removes the cluster even when a test fails. They never
skip: a cluster that cannot start fails them.

The first tests need no cluster: a view whose reads may lag reads from
DATABASE_READ_URL, and a node that turned read-only answers 503 and is dropped.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, make_url, select
from testsupport import TEST_CONFIG, assert_problem, bearer

from app import create_app
from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER
from app.auth.services import create_user, issue_token
from app.backup.services import libpq_url
from app.catalogue.services import create_good
from app.db import db
from app.households.services import create_household
from app.inspections.models import Inspection
from app.ledger.models import Account
from app.ledger.services import adjust
from app.office.services import create_village
from app.redemptions.models import Redemption
from app.rules.services import DEFAULT_GRADES, Grade, set_rules
from app.villages.services import create_grid

# One cluster under .ha: `make test`'s workers run these tests and test_pitr.py's one after another.
pytestmark = pytest.mark.xdist_group("ha-cluster")

ROOT = Path(__file__).resolve().parent.parent
# Where `make ha-up` keeps the cluster (HA_DIR and HA_*_PORT move it, for a second run).
HA = Path(os.environ.get("HA_DIR", ROOT / ".ha"))
SUMMARY = "/api/v1/reports/summary"


# DATABASE_READ_URL: reads that may lag go to the standby, nothing else does -----------------


def _replica_of(app, tmp_path) -> str:
    """Copy the app's database as it is now; return the copy's URL (a standby that lags)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    db.session.remove()
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        copy = tmp_path / "replica.db"
        shutil.copy(url.database, copy)
        return f"sqlite:///{copy}"
    name = f"{url.database}_replica"
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_replica(url: str) -> None:
    replica = make_url(url)
    if replica.get_backend_name() == "postgresql":
        admin = replica.set(drivername="postgresql", database="postgres")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{replica.database}" WITH (FORCE)')


def test_figures_read_from_the_read_url_and_the_ledger_never_does(
    app, household, admin_headers, tmp_path
):
    household_id = household.id
    adjust(household.village_id, household_id, 10, reason="opening balance", actor_id=None)
    db.session.commit()
    replica = _replica_of(app, tmp_path)
    lagging = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "DATABASE_READ_URL": replica,
        }
    )
    try:
        client = lagging.test_client()
        # A write after the copy: the primary has it, the lagging copy does not.
        credited = client.post(
            "/api/v1/adjustments",
            json={"household_id": household_id, "amount": 5, "reason": "补录"},
            headers=admin_headers,
        )
        assert credited.status_code == 201, credited.text
        assert credited.json["balance"] == 15

        figures = client.get(SUMMARY, headers=admin_headers)
        assert figures.status_code == 200, figures.text
        assert figures.json["outstanding"] == 10  # read from the standby, a little behind
        ledger = client.get(f"/api/v1/households/{household_id}", headers=admin_headers)
        assert ledger.json["balance"] == 15  # the household's own balance: the primary
        spent = client.post(
            "/api/v1/adjustments",
            json={"household_id": household_id, "amount": -15, "reason": "更正"},
            headers=admin_headers,
        )
        assert spent.status_code == 201, spent.text  # decided on the primary's 15, not 10
        assert spent.json["balance"] == 0
    finally:
        with lagging.app_context():
            for engine in db.engines.values():
                engine.dispose()
        _drop_replica(replica)
    # Unset, the figures come from the primary.
    assert app.test_client().get(SUMMARY, headers=admin_headers).json["outstanding"] == 0


def test_backups_reach_whichever_host_is_primary():
    """pg_dump gets the hosts of DATABASE_URL as libpq writes them, the first that takes writes."""
    conninfo, env = libpq_url(
        "postgresql+psycopg://gp:s3cret@/greenpoints"
        "?host=db-1:5432&host=db-2:5432&target_session_attrs=read-write"
    )
    assert conninfo == (
        "postgresql://gp@db-1:5432,db-2:5432/greenpoints?target_session_attrs=read-write"
    )
    assert env["PGPASSWORD"] == "s3cret"


# A primary that turned into a standby: 503, then a fresh connection ------------------------


@pytest.mark.ha
@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_a_node_gone_read_only_answers_503_then_the_app_reconnects(
    app, client, household, admin_headers
):
    """Connections made to a node that is now read-only are dropped, not reused."""
    name = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    admin_url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(
        drivername="postgresql", database="postgres"
    )

    def read_only(on: bool) -> None:
        with psycopg.connect(
            admin_url.render_as_string(hide_password=False), autocommit=True
        ) as conn:
            setting = "SET default_transaction_read_only = on" if on else "RESET ALL"
            conn.execute(f'ALTER DATABASE "{name}" {setting}')

    body = {"household_id": household.id, "amount": 5, "reason": "补录"}
    headers = {**admin_headers, "Idempotency-Key": "after-the-switch"}
    db.session.remove()
    db.engine.dispose()
    read_only(True)
    try:
        # Every connection the pool now makes is read-only, as to a demoted primary.
        assert client.get("/healthz").status_code == 200
        refused = client.post("/api/v1/adjustments", json=body, headers=headers)
        assert_problem(refused, 503, "unavailable")
        assert refused.headers["Retry-After"] == "5"
    finally:
        read_only(False)
    # The node takes writes again (as the new primary would): the same request, the
    # same key, on a fresh connection, with no restart.
    again = client.post("/api/v1/adjustments", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json["balance"] == 5
    assert "Idempotent-Replayed" not in again.headers


# The cluster --------------------------------------------------------------------------------

OPENING = 100_000  # points of each household that redeems
INSPECTION_POINTS = 3  # grade A under the default rules
DAILY_LIMIT = 10
INSPECTED = 120  # households that are inspected, up to DAILY_LIMIT times each
REDEEMING = 20  # households that redeem
THREADS = 4
PAUSE = 0.03  # between one client's requests, to keep the run bounded
PROMOTION_LIMIT = 30  # seconds: API.md, High availability
REQUEST_TIMEOUT = 20
RETRY_FOR = 90  # seconds one request may keep being retried before the test fails


def make(target: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run a make target of the project; return its result, output captured."""
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def must(target: str, timeout: float = 180) -> str:
    """Run a make target that must succeed; fail the test loudly with its output if not."""
    result = make(target, timeout)
    if result.returncode != 0:
        logs = "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
            for log in sorted((HA / "logs").glob("*.log"))
        )
        pytest.fail(
            f"make {target} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{logs}"
        )
    return result.stdout


def flask(*args: str, settings: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a `flask --app wsgi` command on the cluster's DATABASE_URL."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": settings["DATABASE_URL"]},
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_env() -> dict[str, str]:
    """The settings `make ha-up` wrote to .ha/env."""
    settings = {}
    for line in (HA / "env").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            settings[name] = value.strip("'")
    return settings


def node_ports() -> list[int]:
    """The data nodes' ports, as `make ha-up` wrote them in DATABASE_URL."""
    query = make_url(read_env()["DATABASE_URL"]).query["host"]
    return [int(host.rsplit(":", 1)[1]) for host in query]


def writable_node() -> int | None:
    """The port of the node that takes writes now, if one does."""
    for port in node_ports():
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, dbname="greenpoints", user="greenpoints",
                connect_timeout=1, target_session_attrs="read-write",
            ) as conn:  # fmt: skip
                conn.execute("SELECT 1")
                return port
        except psycopg.OperationalError:
            continue
    return None


def count_on(port: int, query: str) -> int:
    with psycopg.connect(
        host="127.0.0.1", port=port, dbname="greenpoints", user="greenpoints", connect_timeout=2
    ) as conn:
        return conn.execute(query).fetchone()[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def send(port: int, method: str, path: str, body=None, headers=None) -> tuple[int, dict, dict]:
    """One HTTP request on a fresh connection: status, JSON body (or {}), headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(
            method,
            path,
            body=payload,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {"raw": data[:200].decode(errors="replace")}
        return response.status, parsed, dict(response.getheaders())
    finally:
        connection.close()


@dataclass
class Job:
    """One request a client sends until it gets an answer that is not 503."""

    kind: str  # "inspection" or "redemption"
    household_id: int
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: list = field(default_factory=list)  # (time, status or error text)
    status: int | None = None
    body: dict = field(default_factory=dict)
    replayed: bool = False
    sent: float = 0.0  # when it was first sent


@dataclass
class Village:
    """What the cluster tests seeded, and the bearer headers to act with."""

    inspector: dict
    storekeeper: dict
    admin: dict
    inspected: list[int]
    redeeming: list[int]
    good_id: int
    inspections_of: dict[int, int] = field(default_factory=dict)  # sent so far, per household


class Gunicorn:
    """The app under gunicorn on the cluster's DATABASE_URL, in its own process group."""

    def __init__(self, settings: dict[str, str], log: Path):
        self.port = free_port()
        self.log = log
        beside = Path(sys.executable).parent / "gunicorn"
        command = [str(beside) if beside.exists() else "gunicorn"]
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [*command, "--workers", "2", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
                cwd=ROOT,
                env={**os.environ, **settings, "SECRET_KEY": "test-secret-key"},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if send(self.port, "GET", "/healthz")[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        pytest.fail("gunicorn did not answer /healthz on the cluster")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A fresh cluster from `make ha-up`, the schema migrated; removed at the end, always."""
    if HA.exists():
        pytest.fail(f"{HA} exists: another run's cluster, or a stale one (`make ha-down`)")
    try:
        must("ha-up")
        settings = read_env()
        assert "target_session_attrs=read-write" in settings["DATABASE_URL"]
        migrated = flask("db", "upgrade", settings=settings)
        assert migrated.returncode == 0, migrated.stderr
        yield settings
    finally:
        make("ha-down")


@pytest.fixture(scope="module")
def seeded(cluster) -> Village:
    """A village with households to inspect, households that redeem, and a good."""
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": cluster["DATABASE_URL"]})
    with app.app_context(), disposing():
        village = create_village("马庄村", "MZ")
        set_rules(village.id, [Grade(*g) for g in DEFAULT_GRADES], DAILY_LIMIT, actor_id=None)
        grid = create_grid(village.id, "东一网格")
        inspected = [
            create_household(village, grid, f"住户{i}", f"幸福路{i}号") for i in range(INSPECTED)
        ]
        redeeming = [
            create_household(village, grid, f"兑换户{i}", f"和平路{i}号") for i in range(REDEEMING)
        ]
        db.session.flush()
        for household in redeeming:
            adjust(village.id, household.id, OPENING, reason="opening balance", actor_id=None)
        good = create_good(
            village.id, name="肥皂", unit="块", price_points=1, stock=1_000_000, low_stock=0
        )
        users = {
            role: create_user(village, role, "correct-horse-battery", role)
            for role in (INSPECTOR, STOREKEEPER, ADMIN)
        }
        db.session.commit()
        tokens = {role: bearer(issue_token(user).token) for role, user in users.items()}
        db.session.commit()
        seeded = Village(
            tokens[INSPECTOR],
            tokens[STOREKEEPER],
            tokens[ADMIN],
            [h.id for h in inspected],
            [h.id for h in redeeming],
            good.id,
        )
    return seeded


@pytest.fixture(scope="module")
def server(cluster, seeded, tmp_path_factory) -> Iterator[Gunicorn]:
    """One gunicorn for every cluster test: it is never restarted."""
    # Name the standby's connections, to see that the figures are read there.
    settings = {
        **cluster,
        "DATABASE_READ_URL": cluster["DATABASE_READ_URL"] + "&application_name=gp-reads",
    }
    gunicorn = Gunicorn(settings, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
    yield gunicorn
    gunicorn.stop()


@pytest.fixture(scope="module")
def history() -> list[Job]:
    """Every request sent to the cluster, over all its tests: the ledger holds them all."""
    return []


class Load:
    """Four clients: two inspect, two redeem; every 503 or lost answer is sent again."""

    def __init__(self, server: Gunicorn, village: Village, history: list[Job]):
        self.server = server
        self.village = village
        self.jobs: list[Job] = []
        self.history = history  # every job of every test on this cluster
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(THREADS)]
        self.inspections_of = village.inspections_of

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=RETRY_FOR + 30)
        assert not any(thread.is_alive() for thread in self.threads), "a client hung"

    def answered(self, status: int = 201) -> list[Job]:
        with self.lock:
            return [job for job in self.jobs if job.status == status]

    def wait_for(self, more: int, *, after: float, limit: float = 60) -> None:
        """Wait until `more` requests were answered 201 after the time `after`."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self.lock:
                done = sum(
                    1 for job in self.jobs for at, status in job.attempts[-1:]
                    if status == 201 and at > after
                )  # fmt: skip
            if done >= more:
                return
            time.sleep(0.1)
        pytest.fail(f"fewer than {more} requests were answered 201 within {limit} s")

    def _next_job(self, client: int, round_: int) -> Job:
        village = self.village
        if client < 2:
            households = village.inspected[client::2]
            household = households[round_ % len(households)]
            with self.lock:
                times = self.inspections_of.get(household, 0)
                assert times < DAILY_LIMIT, "the test ran out of inspections; raise INSPECTED"
                self.inspections_of[household] = times + 1
            return Job("inspection", household)
        households = village.redeeming[client - 2 :: 2]
        return Job("redemption", households[round_ % len(households)])

    def _client(self, client: int) -> None:
        round_ = 0
        while not self.stopping.is_set():
            job = self._next_job(client, round_)
            with self.lock:
                self.jobs.append(job)
                self.history.append(job)
            self._send(job)
            round_ += 1
            time.sleep(PAUSE)

    def _send(self, job: Job) -> None:
        village = self.village
        if job.kind == "inspection":
            path, body = "/api/v1/inspections", {"household_id": job.household_id, "grade": "A"}
            headers = village.inspector
        else:
            path = "/api/v1/redemptions"
            body = {
                "household_id": job.household_id,
                "lines": [{"good_id": village.good_id, "quantity": 1}],
            }
            headers = village.storekeeper
        job.sent = time.monotonic()
        give_up = job.sent + RETRY_FOR
        while time.monotonic() < give_up:
            try:
                status, answer, response_headers = send(
                    self.server.port, "POST", path, body, {**headers, "Idempotency-Key": job.key}
                )
            except (OSError, http.client.HTTPException) as error:
                job.attempts.append((time.monotonic(), f"no answer: {error!r}"))
                time.sleep(0.2)
                continue
            job.attempts.append((time.monotonic(), status))
            if status == 503:
                assert answer.get("code") == "unavailable", answer
                assert response_headers.get("Retry-After"), response_headers
                time.sleep(0.2)  # a phone would wait Retry-After; keep the test short
                continue
            job.status, job.body = status, answer
            job.replayed = response_headers.get("Idempotent-Replayed") == "true"
            return


def check_every_answer_is_in_the_ledger_once(settings: dict[str, str], jobs: list[Job], village):
    """Every 201 is in the ledger exactly once; balances are what the 201s add up to."""
    unanswered = [job for job in jobs if job.status is None]
    assert not unanswered, f"{len(unanswered)} requests never got an answer: {unanswered[:3]}"
    wrong = [job for job in jobs if job.status != 201]
    assert not wrong, f"requests not answered 201: {[(j.status, j.body) for j in wrong[:5]]}"

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": settings["DATABASE_URL"]})
    with app.app_context(), disposing():
        inspections = [job for job in jobs if job.kind == "inspection"]
        redemptions = [job for job in jobs if job.kind == "redemption"]
        inspection_ids = set(db.session.scalars(select(Inspection.id)))
        redemption_ids = set(db.session.scalars(select(Redemption.id)))
        assert {job.body["id"] for job in inspections} == inspection_ids
        assert len(inspection_ids) == len(inspections)  # no key ran twice, none was lost
        assert {job.body["id"] for job in redemptions} == redemption_ids
        assert len(redemption_ids) == len(redemptions)
        balances = dict(
            db.session.execute(select(Account.household_id, Account.balance).where(
                Account.household_id.is_not(None)
            )).all()
        )  # fmt: skip
        expected = {h: 0 for h in village.inspected} | {h: OPENING for h in village.redeeming}
        for job in inspections:
            expected[job.household_id] += INSPECTION_POINTS
        for job in redemptions:
            expected[job.household_id] -= 1
        assert balances == expected
        assert db.session.scalar(select(func.count(Inspection.id))) == len(inspections)

    verified = flask("ledger", "verify", settings=settings)
    assert verified.returncode == 0, verified.stdout + verified.stderr


@contextmanager
def disposing() -> Iterator[None]:
    """Close the app's database connections at the end, even when a check fails."""
    try:
        yield
    finally:
        db.session.remove()
        db.engine.dispose()


def report(message: str) -> None:
    """Print a measurement into the test's output (pytest -s, or -rA)."""
    print(f"\nHA: {message}")


@pytest.mark.ha
def test_losing_the_standby_writes_go_on_and_nothing_is_lost(cluster, seeded, server, history):
    primary = writable_node()
    assert primary is not None
    # The figures are read on the standby (DATABASE_READ_URL), the ledger on the primary.
    assert send(server.port, "GET", SUMMARY, headers=seeded.admin)[0] == 200
    standby = next(port for port in node_ports() if port != primary)
    reads = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gp-reads'"
    assert count_on(standby, reads) >= 1
    assert count_on(primary, reads) == 0
    assert make("ha-status").returncode == 0

    with Load(server, seeded, history) as load:
        load.wait_for(20, after=0)
        killed = time.monotonic()
        must("ha-kill-standby")
        load.wait_for(40, after=killed)
    # A commit waits for the standby until the monitor lets the primary go on alone.
    stalled = max(job.attempts[-1][0] - job.sent for job in load.jobs if job.attempts)
    report(
        f"standby lost: {len(load.jobs)} requests, "
        f"{sum(1 for j in load.jobs for _, s in j.attempts if s == 503)} answered 503; "
        f"the longest took {stalled:.1f} s"
    )
    status = make("ha-status")
    assert status.returncode != 0 and "DEGRADED" in status.stdout, status.stdout
    assert writable_node() == primary  # the primary went on alone; nothing was promoted
    # The figures fall back to the primary while the standby is away.
    assert send(server.port, "GET", SUMMARY, headers=seeded.admin)[0] == 200
    check_every_answer_is_in_the_ledger_once(cluster, history, seeded)

    # The runbook: start the lost node again; it catches up and is synchronous again.
    must("ha-rejoin")
    assert make("ha-status").returncode == 0


@pytest.mark.ha
def test_losing_the_primary_promotes_the_standby_and_loses_no_point(
    cluster, seeded, server, history, tmp_path
):
    healthy = make("ha-status")
    assert healthy.returncode == 0, healthy.stdout  # one primary, one synchronous standby
    old_primary = writable_node()
    master = server.process.pid

    with Load(server, seeded, history) as load:
        load.wait_for(20, after=0)
        before = len(load.answered())
        killed = time.monotonic()
        must("ha-kill-primary")
        promoted_at = None
        while time.monotonic() - killed < PROMOTION_LIMIT + 15:
            new_primary = writable_node()
            if new_primary is not None:
                promoted_at = time.monotonic()
                break
            time.sleep(0.2)
        assert promoted_at is not None, "no node took writes"
        assert new_primary != old_primary
        promotion = promoted_at - killed
        load.wait_for(40, after=promoted_at + 1)

    attempts = sorted((at, status) for job in load.jobs for at, status in job.attempts)
    unavailable = [at for at, status in attempts if status == 503 and at > killed]
    assert unavailable, "the app never answered 503 during the switch"
    window = (
        min(at for at, status in attempts if status == 201 and at > unavailable[0]) - unavailable[0]
    )
    report(
        f"primary lost: standby promoted (takes writes) {promotion:.1f} s after the kill; "
        f"503 from {unavailable[0] - killed:.1f} s to {unavailable[-1] - killed:.1f} s "
        f"after it, 201 again {window:.1f} s after the first 503; "
        f"{len(load.jobs)} requests ({before} before the kill), "
        f"{sum(1 for j in load.jobs if j.replayed)} answered by replaying their key"
    )
    assert promotion <= PROMOTION_LIMIT
    assert any(status == 201 for at, status in attempts if at > promoted_at)
    assert server.process.poll() is None and server.process.pid == master  # no restart
    assert "WORKER TIMEOUT" not in server.log.read_text(errors="replace")
    check_every_answer_is_in_the_ledger_once(cluster, history, seeded)
    backup = flask("backup", "create", str(tmp_path / "after-failover.dump"), settings=cluster)
    assert backup.returncode == 0, backup.stdout + backup.stderr

    # The runbook: the old primary rejoins as the new primary's standby, data and all.
    must("ha-rejoin")
    assert make("ha-status").returncode == 0
    journals = "SELECT count(*) FROM journals"
    deadline = time.monotonic() + 30
    while count_on(old_primary, journals) != count_on(new_primary, journals):
        assert time.monotonic() < deadline, "the rejoined node did not catch up"
        time.sleep(0.5)
