"""Crash test (LEDGER.md, test 4): kill the real server mid-load, restart, retry.

A gunicorn server on the test's database takes adjustments, inspections and
redemptions from a few client threads, each request with its own
Idempotency-Key. Part-way through, the whole server is killed with SIGKILL
(some requests are mid-write, some committed but not yet answered). After a
restart every unanswered request is sent again with the same key and body, and
a sample of answered ones is replayed. Then the database must show each request
exactly once, nothing half-written, balances and stock as a model predicts, and
`verify_all()` clean.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER
from app.catalogue.models import Good, StockMovement
from app.catalogue.services import create_good
from app.checks import verify_all
from app.db import db
from app.inspections.models import Inspection
from app.ledger.models import Journal
from app.ledger.services import household_account
from app.redemptions.models import Redemption, RedemptionLine

ROOT = Path(__file__).resolve().parent.parent
HOUSEHOLDS = 20
OPENING = 200
REQUESTS = 150
THREADS = 5
KILL_AFTER = int(REQUESTS * 0.4)
REQUEST_TIMEOUT = 10
DEADLINE = 60  # seconds for each phase; nothing here may hang
INSPECTION_POINTS = 3  # grade A under the default rules

NO_ANSWER = "no answer"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn() -> str:
    beside = Path(sys.executable).parent / "gunicorn"
    return str(beside) if beside.exists() else (shutil.which("gunicorn") or "gunicorn")


class Server:
    """gunicorn in its own process group, started and killed as a whole."""

    def __init__(
        self,
        database_url: str,
        port: int,
        log: Path,
        args: tuple[str, ...] = ("--workers", "2"),
        env: dict[str, str] | None = None,
    ):
        self.port = port
        self.log = log
        self.args = args
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "BASE_URL": "http://greenpoints.test",
            "GREENPOINTS_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [_gunicorn(), *self.args, "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"gunicorn exited ({self.process.returncode}):\n"
                    f"{self.log.read_text(errors='replace')[-3000:]}"
                )
            try:
                status, _, _ = send(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        pytest.fail("gunicorn did not answer /healthz in time")

    def kill(self) -> None:
        """SIGKILL the whole group: master and workers, no chance to finish anything."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
        self.kill()


def send(
    port: int,
    method: str,
    path: str,
    *,
    body: dict | None = None,
    headers: dict | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> tuple[int, bytes, dict]:
    """One HTTP request on a fresh connection; raises OSError/HTTPException on no answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        all_headers = dict(headers or {})
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def build_requests(
    rng: random.Random, households: list[int], goods: dict[int, int], headers: dict[str, dict]
) -> list[dict]:
    """REQUESTS requests, each with its own key: one inspection per household,
    then adjustments and redemptions, shuffled together."""
    requests: list[dict] = []
    for household_id in households:
        requests.append(
            {
                "kind": "inspection",
                "path": "/api/v1/inspections",
                "headers": headers["inspector"],
                "body": {"household_id": household_id, "grade": "A"},
            }
        )
    remaining = REQUESTS - len(requests)
    for n in range(remaining):
        household_id = rng.choice(households)
        if n % 2 == 0:
            amount = rng.choice([rng.randint(1, 20), -rng.randint(1, 3)])
            requests.append(
                {
                    "kind": "adjustment",
                    "path": "/api/v1/adjustments",
                    "headers": headers["admin"],
                    "body": {
                        "household_id": household_id,
                        "amount": amount,
                        "reason": f"crash test adjustment {n}",
                    },
                }
            )
        else:
            chosen = rng.sample(sorted(goods), rng.randint(1, 2))
            requests.append(
                {
                    "kind": "redemption",
                    "path": "/api/v1/redemptions",
                    "headers": headers["storekeeper"],
                    "body": {
                        "household_id": household_id,
                        "lines": [
                            {"good_id": good_id, "quantity": rng.randint(1, 2)}
                            for good_id in chosen
                        ],
                    },
                }
            )
    rng.shuffle(requests)
    for index, request in enumerate(requests):
        request["key"] = f"crash-{index}-{rng.getrandbits(48):012x}"
        request["outcome"] = None
    return requests


def post(port: int, request: dict, timeout: float = REQUEST_TIMEOUT) -> tuple[int, bytes, dict]:
    return send(
        port,
        "POST",
        request["path"],
        body=request["body"],
        headers={**request["headers"], "Idempotency-Key": request["key"]},
        timeout=timeout,
    )


@pytest.mark.slow
def test_kill_the_server_mid_load_then_retry(
    app, tmp_path, make_household, make_user, token_for, village
):
    rng = random.Random(20240601)
    households = [
        make_household(name=f"户{i}", address=f"马庄村{i}组", points=OPENING).id
        for i in range(HOUSEHOLDS)
    ]
    goods = {}
    for name, price in (("肥皂", 2), ("洗衣粉", 3), ("食用油", 5)):
        good = create_good(village.id, name=name, unit="件", price_points=price, stock=1000)
        goods[good.id] = price
    db.session.commit()
    headers = {
        role: token_for(make_user(role, username=f"crash-{role}"))
        for role in (ADMIN, INSPECTOR, STOREKEEPER)
    }
    village_id = village.id
    requests = build_requests(rng, households, goods, headers)
    db.session.rollback()  # hold no snapshot or lock while the server writes

    server = Server(app.config["SQLALCHEMY_DATABASE_URI"], _free_port(), tmp_path / "gunicorn.log")
    try:
        started = time.monotonic()
        server.start()
        port = server.port

        # Phase 1: load from several threads; kill the server part-way through.
        pending = list(range(len(requests)))
        lock = threading.Lock()
        done = threading.Semaphore(0)

        def worker() -> None:
            stop_at = time.monotonic() + DEADLINE
            while time.monotonic() < stop_at:
                with lock:
                    if not pending:
                        return
                    request = requests[pending.pop(0)]
                request["sent_at"] = time.monotonic()
                try:
                    status, body, response_headers = post(port, request)
                    request["outcome"] = status
                    request["body_out"] = body
                except (OSError, http.client.HTTPException):
                    request["outcome"] = NO_ANSWER
                done.release()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for _ in range(KILL_AFTER):
            assert done.acquire(timeout=DEADLINE), "the load stalled before the kill"
        killed_at = time.monotonic()
        server.kill()
        for thread in threads:
            thread.join(timeout=DEADLINE + REQUEST_TIMEOUT)
        assert not any(thread.is_alive() for thread in threads), "a client thread hung"
        load_seconds = time.monotonic() - started

        first = Counter(str(r["outcome"]) for r in requests)
        unanswered = [r for r in requests if r["outcome"] == NO_ANSWER]
        answered = [r for r in requests if r["outcome"] != NO_ANSWER]
        assert all(r["outcome"] is not None for r in requests), first
        assert unanswered, "the kill came too late: every request was answered"
        assert all(200 <= r["outcome"] < 300 for r in answered), first
        in_flight = sum(r["sent_at"] < killed_at for r in unanswered)

        # Phase 2: restart; retry every unanswered request until it gets an answer.
        server.start()
        replayed_after_kill = 0
        stop_at = time.monotonic() + DEADLINE
        for request in unanswered:
            while True:
                assert time.monotonic() < stop_at, f"no answer on retry for {request['key']}"
                try:
                    status, body, response_headers = post(port, request)
                except (OSError, http.client.HTTPException):
                    time.sleep(0.2)
                    continue
                break
            assert status == 201, (request, status, body)
            request["outcome"], request["body_out"] = status, body
            request["retried"] = True
            if response_headers.get("Idempotent-Replayed") == "true":
                replayed_after_kill += 1  # committed before the kill, reply lost

        # A sample of answered requests: the same answer again, marked replayed.
        for request in rng.sample(answered, min(20, len(answered))):
            status, body, response_headers = post(port, request)
            assert status == request["outcome"], (request["key"], status, body)
            assert body == request["body_out"], request["key"]
            assert response_headers.get("Idempotent-Replayed") == "true", request["key"]
        server.stop()

        # Phase 3: the database, read after the server is gone.
        db.session.rollback()
        check_database(requests, households, goods, village_id)
        print(
            f"\n[{app.config['TEST_BACKEND']}] first pass {dict(first)}; "
            f"{len(unanswered)} unanswered ({in_flight} in flight at the kill), "
            f"{replayed_after_kill} of them had committed "
            f"before the kill; load+kill {load_seconds:.1f}s, "
            f"total {time.monotonic() - started:.1f}s"
        )
    finally:
        server.stop()


def check_database(
    requests: list[dict], households: list[int], goods: dict[int, int], village_id: int
) -> None:
    assert all(r["outcome"] == 201 for r in requests)
    expected_balance = dict.fromkeys(households, OPENING)
    expected_stock = dict.fromkeys(goods, 1000)
    receipts = []
    for request in requests:
        body, answer = request["body"], json.loads(request["body_out"])
        household_id = body["household_id"]
        assert answer["household_id"] == household_id
        if request["kind"] == "adjustment":
            expected_balance[household_id] += body["amount"]
            assert (
                db.session.scalar(
                    select(func.count())
                    .select_from(Journal)
                    .where(Journal.village_id == village_id, Journal.memo == body["reason"])
                )
                == 1
            ), request["key"]
            assert answer["transaction_id"] is not None
        elif request["kind"] == "inspection":
            expected_balance[household_id] += INSPECTION_POINTS
            inspections = db.session.scalars(
                select(Inspection).where(Inspection.household_id == household_id)
            ).all()
            assert [i.id for i in inspections] == [answer["id"]], request["key"]
            assert inspections[0].journal_id == answer["transaction_id"]
        else:
            total = sum(goods[line["good_id"]] * line["quantity"] for line in body["lines"])
            expected_balance[household_id] -= total
            for line in body["lines"]:
                expected_stock[line["good_id"]] -= line["quantity"]
            assert answer["total_points"] == total
            receipts.append(answer["id"])
            redemption = db.session.get(Redemption, answer["id"])
            assert redemption is not None and redemption.journal_id == answer["transaction_id"]
            lines = db.session.scalars(
                select(RedemptionLine).where(RedemptionLine.redemption_id == redemption.id)
            ).all()
            assert sorted((x.good_id, x.quantity) for x in lines) == sorted(
                (line["good_id"], line["quantity"]) for line in body["lines"]
            )
            moves = db.session.scalars(
                select(StockMovement).where(StockMovement.redemption_id == redemption.id)
            ).all()
            assert sorted((m.good_id, -m.quantity) for m in moves) == sorted(
                (line["good_id"], line["quantity"]) for line in body["lines"]
            )

    # Exactly once: no extra rows beyond the requests (and the seeded opening balances).
    kinds = Counter(r["kind"] for r in requests)
    assert len(set(receipts)) == kinds["redemption"]
    assert db.session.scalar(select(func.count()).select_from(Redemption)) == kinds["redemption"]
    assert db.session.scalar(select(func.count()).select_from(Inspection)) == kinds["inspection"]
    assert db.session.scalar(
        select(func.count()).select_from(Journal).where(Journal.village_id == village_id)
    ) == HOUSEHOLDS + len(requests)

    assert {h: household_account(h).balance for h in households} == expected_balance
    assert {g.id: g.stock for g in db.session.scalars(select(Good))} == expected_stock
    report = verify_all(village_id)
    assert report.ok, report.problems
