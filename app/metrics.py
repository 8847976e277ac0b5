"""What a county's Prometheus scrapes at /metrics: requests, writes, refusals, the ledger.

Counted at the edge, after each request, from what the client was answered (the
endpoint's rule, never its path; problem codes, never details), so no name, phone,
address, card or token can reach a label. Under gunicorn the counts of every worker
are summed through prometheus_client's multiprocess mode: PROMETHEUS_MULTIPROC_DIR
names a folder per server, emptied when the server starts (deploy/gunicorn.conf.py).
What the database knows (overdue cases, the last `ledger verify`) is read at each
scrape. Answered to loopback, and to the addresses in GREENPOINTS_METRICS_ALLOW.
"""

import ipaddress
import os
import time
from datetime import datetime

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from app.cases.models import WORKING_STATES, Case
from app.db import db, utcnow
from app.ledger.models import VerifyRun
from app.villages.models import Village

PROBLEM_JSON = "application/problem+json"
# The app's own metrics; in multiprocess mode their values live in files instead.
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "greenpoints_http_requests",
    "Requests answered, by endpoint rule, method and status.",
    ["endpoint", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "greenpoints_http_request_duration_seconds",
    "Time to answer a request, by endpoint rule.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
CREDITS = Counter(
    "greenpoints_credits",
    "Grades sent to the API, one by one or in a queue, by outcome (credited or a code).",
    ["outcome"],
    registry=REGISTRY,
)
REDEMPTIONS = Counter(
    "greenpoints_redemptions",
    "Redemptions sent to the API, by outcome (redeemed or a code).",
    ["outcome"],
    registry=REGISTRY,
)
REFUSALS = Counter(
    "greenpoints_refusals",
    "Problems answered (problem+json and batch items), by code.",
    ["code"],
    registry=REGISTRY,
)
REPLAYS = Counter(
    "greenpoints_idempotent_replays",
    "Requests answered from a stored outcome (Idempotent-Replayed), by endpoint rule.",
    ["endpoint"],
    registry=REGISTRY,
)
LATE_ARRIVALS = Histogram(
    "greenpoints_inspection_arrival_delay_seconds",
    "How long after it was graded an inspection reached the server (offline queues).",
    buckets=(60, 300, 900, 3600, 6 * 3600, 24 * 3600, 72 * 3600),
    registry=REGISTRY,
)
POOL_IN_USE = Gauge(
    "greenpoints_db_pool_checked_out",
    "Database connections checked out of this server's pools.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

CREDIT_ENDPOINTS = {"inspections_api.create_inspection", "inspections_api.create_batch"}
REDEMPTION_ENDPOINTS = {"redemptions_api.create_redemption"}

bp = Blueprint("metrics", __name__)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _outcomes(response: Response) -> list[tuple[int, str | None, dict | None]]:
    """(status, problem code, inspection) of each answer a response carries (a batch: many)."""
    if request.endpoint == "inspections_api.create_batch" and response.status_code == 200:
        items = (response.get_json(silent=True) or {}).get("items", [])
        return [
            (
                item.get("status", 0),
                (item.get("problem") or {}).get("code"),
                item.get("inspection"),
            )
            for item in items
        ]
    body = response.get_json(silent=True) if response.is_json else None
    if response.mimetype == PROBLEM_JSON:
        return [(response.status_code, (body or {}).get("code"), None)]
    return [(response.status_code, None, body if isinstance(body, dict) else None)]


def _count_business(response: Response) -> None:
    endpoint = request.endpoint or ""
    watched = endpoint in CREDIT_ENDPOINTS or endpoint in REDEMPTION_ENDPOINTS
    if not watched and response.mimetype != PROBLEM_JSON:
        return
    for status, code, shown in _outcomes(response):
        if code:
            REFUSALS.labels(code).inc()
        if endpoint in CREDIT_ENDPOINTS:
            CREDITS.labels(code or ("credited" if status == 201 else str(status))).inc()
            if status == 201 and shown and shown.get("inspected_at") and shown.get("recorded_at"):
                graded = datetime.fromisoformat(shown["inspected_at"])
                arrived = datetime.fromisoformat(shown["recorded_at"])
                LATE_ARRIVALS.observe(max(0.0, (arrived - graded).total_seconds()))
        elif endpoint in REDEMPTION_ENDPOINTS:
            REDEMPTIONS.labels(code or ("redeemed" if status == 201 else str(status))).inc()


def _finished(response: Response) -> Response:
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    if rule == "/metrics":
        return response
    REQUESTS.labels(rule, request.method, str(response.status_code)).inc()
    started = g.pop("metrics_started", None)
    if started is not None:
        LATENCY.labels(rule).observe(time.perf_counter() - started)
    if response.headers.get("Idempotent-Replayed") == "true":
        REPLAYS.labels(rule).inc()  # the first answer was counted; this is no new write
    else:
        _count_business(response)
    POOL_IN_USE.set(sum(_checked_out(engine.pool) for engine in db.engines.values()))
    return response


def _checked_out(pool) -> int:
    # A QueuePool counts its connections; SQLite's per-thread pools have nothing to count.
    counter = getattr(pool, "checkedout", None)
    return counter() if callable(counter) else 0


class DatabaseCollector:
    """What the database holds, read at each scrape: overdue cases, the last verify."""

    def collect(self):
        now = utcnow()
        overdue = GaugeMetricFamily(
            "greenpoints_cases_overdue",
            "Reported problems past their due time and not resolved, by village code.",
            labels=["village"],
        )
        rows = db.session.execute(
            select(Village.code, func.count(Case.id))
            .join(Case, Case.village_id == Village.id)
            .where(Case.state.in_(WORKING_STATES), Case.due_at < now)
            .group_by(Village.code)
        ).all()
        for code, count in rows:
            overdue.add_metric([code], count)
        yield overdue
        last = db.session.scalar(
            select(VerifyRun).where(VerifyRun.village_id.is_(None)).order_by(VerifyRun.id.desc())
        )
        ok = GaugeMetricFamily(
            "greenpoints_ledger_verify_ok",
            "1 when the last `flask ledger verify` of the whole server found no problem.",
        )
        problems = GaugeMetricFamily(
            "greenpoints_ledger_verify_problems", "Problems the last `ledger verify` found."
        )
        finished = GaugeMetricFamily(
            "greenpoints_ledger_verify_timestamp_seconds",
            "When the last `ledger verify` of the whole server finished (Unix time).",
        )
        if last is not None:
            ok.add_metric([], 1 if last.ok else 0)
            problems.add_metric([], last.problems)
            finished.add_metric([], last.finished_at.timestamp())
        yield ok
        yield problems
        yield finished


def _allowed(address: str | None) -> bool:
    if not address:
        return False
    try:
        client = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if client.is_loopback:
        return True
    for entry in current_app.config["METRICS_ALLOW"]:
        if client in entry:
            return True
    return False


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus text format; to anyone not allowed, 404 as if there were none."""
    if not _allowed(request.remote_addr):
        abort(404)
    if _multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return Response(text + generate_latest(database), mimetype=CONTENT_TYPE_LATEST)


def parse_allow(value: object) -> list:
    """GREENPOINTS_METRICS_ALLOW: addresses or networks, separated by commas or spaces."""
    if isinstance(value, list | tuple):
        parts = [str(part) for part in value]
    else:
        parts = str(value or "").replace(",", " ").split()
    return [ipaddress.ip_network(part, strict=False) for part in parts]


def init_metrics(app: Flask) -> None:
    """Count every request, and serve /metrics."""
    app.config["METRICS_ALLOW"] = parse_allow(app.config.get("METRICS_ALLOW"))
    app.before_request(_started)
    app.after_request(_finished)
    app.register_blueprint(bp)
