"""GET /metrics: Prometheus text that county IT can scrape, with nothing personal in it."""

import ipaddress
import json
import re
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from test_crash import Server, _free_port, send

from app.cases.models import Case
from app.cases.services import report_case
from app.db import db, utcnow
from app.households.cards import make_token


def scrape(client, address: str = "127.0.0.1"):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    return response


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of the scrape: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_credits_refusals_and_replays_are_counted(client, inspect, household, redeem, soap):
    before = scrape(client).get_data(as_text=True)
    assert inspect(household, key="metrics-1").status_code == 201
    assert inspect(household, key="metrics-1").headers["Idempotent-Replayed"] == "true"
    assert inspect(household).status_code == 409
    assert redeem(household, (soap, 1)).status_code == 409  # a new household has no points
    after = scrape(client).get_data(as_text=True)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("greenpoints_credits_total", outcome="credited") == 1
    assert grew("greenpoints_credits_total", outcome="already_inspected_today") == 1
    assert grew("greenpoints_refusals_total", code="insufficient_points") == 1
    assert grew("greenpoints_redemptions_total", outcome="insufficient_points") == 1
    assert grew("greenpoints_idempotent_replays_total", endpoint="/api/v1/inspections") == 1
    assert (
        grew(
            "greenpoints_http_requests_total",
            endpoint="/api/v1/inspections",
            method="POST",
            status="201",
        )
        == 2  # the first and its replay
    )
    assert grew("greenpoints_inspection_arrival_delay_seconds_count") == 1


def test_nothing_personal_is_in_a_label(client, admin_headers, household):
    client.get(f"/api/v1/households/{household.id}", headers=admin_headers)
    client.get(f"/q/{make_token(household)}")
    text = scrape(client).get_data(as_text=True)
    for personal in (household.name, household.address, household.code, make_token(household)):
        assert personal not in text
    assert "/q/<token>" in text and "/api/v1/households/<id:household_id>" in text


def test_only_loopback_and_the_allowed_addresses_may_scrape(app, client):
    assert scrape(client, "10.1.2.3").status_code == 404
    assert scrape(client, "::1").status_code == 200
    app.config["METRICS_ALLOW"] = [ipaddress.ip_network("10.1.0.0/16")]
    assert scrape(client, "10.1.2.3").status_code == 200
    assert scrape(client, "10.2.0.1").status_code == 404


def test_overdue_cases_and_the_last_verify_are_read_from_the_database(
    client, runner, village, resident
):
    case = report_case(resident, village.id, category="overflow")
    db.session.commit()
    db.session.execute(
        update(Case).where(Case.id == case.id).values(due_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
    text = scrape(client).get_data(as_text=True)
    assert value(text, "greenpoints_cases_overdue", village="MZ") == 1
    assert value(text, "greenpoints_ledger_verify_ok") == 1
    assert value(text, "greenpoints_ledger_verify_problems") == 0
    assert value(text, "greenpoints_ledger_verify_timestamp_seconds") > 0


def test_gunicorn_workers_are_summed_and_a_restart_starts_from_zero(app, tmp_path, household):
    port = _free_port()
    folder = tmp_path / "metrics"
    server = Server(
        app.config["SQLALCHEMY_DATABASE_URI"],
        port,
        tmp_path / "gunicorn.log",
        args=("-c", "deploy/gunicorn.conf.py", "--workers", "2"),
        env={"PROMETHEUS_MULTIPROC_DIR": str(folder)},
    )

    def healthz_count() -> float:
        status, body, _ = send(port, "GET", "/metrics")
        assert status == 200
        return value(
            body.decode(),
            "greenpoints_http_requests_total",
            endpoint="/healthz",
            method="GET",
            status="200",
        )

    server.start()
    try:
        for _ in range(20):  # on fresh connections, spread over both workers
            assert send(port, "GET", "/healthz")[0] == 200
        assert healthz_count() >= 20
    finally:
        server.stop()
    server.start()
    try:
        assert healthz_count() < 20  # the folder was emptied when the server started again
    finally:
        server.stop()


def test_the_sample_alerts_and_dashboard_name_only_metrics_that_exist(client, runner):
    runner.invoke(args=["ledger", "verify"])
    text = scrape(client).get_data(as_text=True)
    known = {family.name for family in text_string_to_metric_families(text)}
    known |= {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    deploy = Path(__file__).resolve().parent.parent / "deploy"
    rules = yaml.safe_load((deploy / "prometheus/alerts.yml").read_text())["groups"][0]["rules"]
    dashboard = json.loads((deploy / "grafana/greenpoints.json").read_text())
    expressions = [rule["expr"] for rule in rules] + [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]
    named = {name for expr in expressions for name in re.findall(r"greenpoints_\w+", expr)}
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in named}
    assert {rule["alert"] for rule in rules} >= {
        "LedgerVerifyFailed",
        "ServerErrors",
        "CasesOverdue",
        "DatabaseFailover",
    }
    assert families <= {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in known} | {
        "greenpoints_cases_overdue"  # present only when a case is overdue
    }
