"""Where a write request's time goes: pyinstrument over the app in-process, on PostgreSQL.

The requests run one after another through Flask's test client against the bench
database, so the profile holds the app's own work (routing, auth, schemas, the
ORM, the services) and its waits on the database, without gunicorn or the network.
Beside the call tree and the functions by their own time, the file lists the SQL
statements of one request, and how much of a request is spent waiting on them.
"""

import cProfile
import io
import pstats
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pyinstrument import Profiler
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db import db
from bench.load import CASES, INSPECTIONS, RESOLVES, Target
from bench.seed import CASE_CATEGORY
from bench.settings import ROOT

WARM_UP = 20


@dataclass
class ProfileSummary:
    mode: str
    requests: int
    ms_per_request: float
    statements_per_request: float
    database_ms_per_request: float
    path: Path
    cpu_ms_per_request: float = 0.0  # without a profiler
    plain_ms_per_request: float = 0.0  # without a profiler


def _request(target: Target, mode: str, number: int) -> tuple[str, dict]:
    """The path and JSON body of request `number` of a mode."""
    household = target.first_household + number % target.households
    if mode == INSPECTIONS:
        return "/api/v1/inspections", {"household_id": household, "grade": "A"}
    if mode == CASES:
        return "/api/v1/cases", {"category": CASE_CATEGORY, "description": "垃圾桶满了"}
    if mode == RESOLVES:
        case_id = target.case_ids[number]
        return f"/api/v1/cases/{case_id}/events", {"action": "resolve", "note": "已清运"}
    good = target.good_ids[number % len(target.good_ids)]
    return "/api/v1/redemptions", {
        "household_id": household,
        "lines": [{"good_id": good, "quantity": 1}],
    }


def endpoint_label(mode: str) -> str:
    if mode == RESOLVES:
        return "POST /api/v1/cases/{id}/events (resolve)"
    return f"POST /api/v1/{mode}"


def _picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 140, 60)).save(out, "JPEG")
    return out.getvalue()


def prepare_resolves(client: FlaskClient, target: Target, count: int) -> None:
    """Cases for `count` resolves: each reported by the household, accepted by the grid's
    worker and given its after-photo (none of which is profiled)."""
    resident = {"Authorization": f"Bearer {target.tokens[CASES]}"}
    worker = {"Authorization": f"Bearer {target.tokens[RESOLVES]}"}
    picture = _picture()

    def check(response, what: str):
        if response.status_code != 201:
            raise RuntimeError(f"profile: {what} answered {response.status_code}: {response.text}")
        return response.json

    for _ in range(count - len(target.case_ids)):
        case = check(
            client.post(
                "/api/v1/cases",
                json={"category": CASE_CATEGORY, "description": "垃圾桶满了"},
                headers=resident,
            ),
            "a report",
        )
        events = f"/api/v1/cases/{case['id']}/events"
        check(client.post(events, json={"action": "accept"}, headers=worker), "accept")
        check(
            client.post(
                f"/api/v1/cases/{case['id']}/photos",
                data={"file": (io.BytesIO(picture), "after.jpg"), "stage": "after"},
                headers=worker,
                content_type="multipart/form-data",
            ),
            "the after-photo",
        )
        target.case_ids.append(case["id"])


def _pstats(profile: cProfile.Profile, order: str, limit: int = 35) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(order).print_stats(limit)
    text = out.getvalue()
    # Paths relative to the venv or the repository, to keep lines short.
    text = re.sub(r"/\S*/site-packages/", "", text)
    return text.replace(str(ROOT) + "/", "")


def _mean_ms(waits: list[float] | None) -> str:
    return f"{1000 * sum(waits) / len(waits):.2f}" if waits else "?"


def _shape(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip()[:160]


def profile_endpoint(
    app: Flask, target: Target, mode: str, requests: int, path: Path
) -> ProfileSummary:
    """Profile `requests` distinct POSTs to one endpoint and write the report to path."""
    client = app.test_client()
    made_folder = None
    if mode == RESOLVES:
        if not app.config.get("PHOTO_FOLDER"):
            # The after-photos go to a folder of their own, removed at the end.
            made_folder = app.config["PHOTO_FOLDER"] = tempfile.mkdtemp(prefix="greenpoints-bench-")
        prepare_resolves(client, target, WARM_UP + 1 + requests // 4 + requests + requests // 2)
    headers = {"Authorization": f"Bearer {target.tokens[mode]}"}
    statements: list[str] = []
    waits: list[float] = []
    commits: list[float] = []
    commit_started: list[float] = []

    def before(_conn, _cursor, statement, _params, context, _many):
        context._bench_started = time.perf_counter()
        statements.append(statement)

    def after(_conn, _cursor, _statement, _params, context, _many):
        waits.append(time.perf_counter() - context._bench_started)

    def before_commit(_session):
        commit_started.append(time.perf_counter())

    def after_commit(_session):
        if commit_started:
            commits.append(time.perf_counter() - commit_started.pop())

    def send(count: int) -> None:
        for _ in range(count):
            number = target.next_number[mode]
            target.next_number[mode] += 1
            path, body = _request(target, mode, number)
            response = client.post(
                path,
                json=body,
                headers={**headers, "Idempotency-Key": f"profile-{mode}-{number}"},
            )
            if response.status_code != 201:
                raise RuntimeError(
                    f"profile: {mode} answered {response.status_code}: {response.text}"
                )

    with app.app_context():
        engine = db.engine
    send(WARM_UP)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(Session, "before_commit", before_commit)
    event.listen(Session, "after_commit", after_commit)
    try:
        send(1)
        one_request = list(statements)
        statements.clear()
        waits.clear()
        commits.clear()
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        send(requests // 4)
        plain_cpu = 1000 * (time.process_time() - cpu_started) / (requests // 4)
        plain_wall = 1000 * (time.perf_counter() - wall_started) / (requests // 4)
        statements.clear()
        waits.clear()
        commits.clear()
        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        profiler.start()
        send(requests)
        profiler.stop()
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        event.remove(Session, "before_commit", before_commit)
        event.remove(Session, "after_commit", after_commit)
    # CPU only, by function: a wait for the database (or for a core, on a busy machine)
    # costs nothing here, so this shows what the Python itself costs.
    cpu_profile = cProfile.Profile(time.process_time)
    cpu_profile.enable()
    send(requests // 2)
    cpu_profile.disable()

    summary = ProfileSummary(
        mode=mode,
        requests=requests,
        ms_per_request=1000 * elapsed / requests,
        statements_per_request=len(statements) / requests,
        database_ms_per_request=1000 * (sum(waits) + sum(commits)) / requests,
        path=path,
        cpu_ms_per_request=plain_cpu,
        plain_ms_per_request=plain_wall,
    )
    kinds = Counter(_shape(s).split(" ")[0] for s in statements)
    by_shape: dict[str, list[float]] = defaultdict(list)
    for statement, wait in zip(statements, waits, strict=False):
        by_shape[_shape(statement)].append(wait)
    commit_ms = 1000 * sum(commits) / len(commits) if commits else 0.0
    lines = [
        f"# {endpoint_label(mode)}: {requests} requests in-process (Flask test client), PostgreSQL",
        "",
        f"{summary.ms_per_request:.2f} ms per request (under the profiler), of which "
        f"{summary.database_ms_per_request:.2f} ms inside the driver: "
        f"{summary.statements_per_request:.1f} SQL statements (from SQLAlchemy's "
        "before_cursor_execute to after_cursor_execute: psycopg's work, the round trip and "
        f"the server's) and the COMMIT ({commit_ms:.2f} ms); the rest is the app's Python "
        "(Flask, webargs/marshmallow, SQLAlchemy's compile and ORM, the services).",
        f"Without a profiler: {plain_wall:.2f} ms per request, {plain_cpu:.2f} ms of it CPU "
        "time of this process (time.process_time).",
        "Statements by verb over the run: "
        + ", ".join(f"{verb} {count / requests:.1f}" for verb, count in kinds.most_common()),
        "",
        "## The SQL of one request, in order, with each statement's mean time over the run",
        *(
            f"{n:2d}. {_mean_ms(by_shape.get(_shape(s))):>6} ms  {_shape(s)}"
            for n, s in enumerate(one_request, 1)
        ),
        f"    {commit_ms:6.2f} ms  COMMIT",
        "",
        f"## CPU time by function (cProfile with time.process_time, {requests // 2} requests)",
        "",
        "Deterministic profiling inflates small, often-called functions; read it for ranking.",
        "",
        _pstats(cpu_profile, "tottime"),
        _pstats(cpu_profile, "cumulative"),
        "## Functions by their own time (pyinstrument, flat)",
        profiler.output_text(flat=True, show_all=False, short_mode=False),
        "## Call tree (pyinstrument)",
        profiler.output_text(show_all=False),
    ]
    path.write_text("\n".join(lines))
    if made_folder:
        shutil.rmtree(made_folder, ignore_errors=True)
        app.config["PHOTO_FOLDER"] = None
    return summary
