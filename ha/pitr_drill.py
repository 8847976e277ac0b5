"""`make pitr-drill`: lose both database machines, restore to a second, lose no answered point.

On the cluster of `make ha-up` (its settings in $HA_DIR/env), through the app's own
API with Idempotency-Keys:

1. a village is seeded and inspections are credited (each answered 201 is noted);
2. the time T is read from the primary's clock, and WAL up to it is archived;
3. more inspections are credited, after T, and archived too;
4. both nodes are destroyed (`ha/pitr.py destroy`: processes killed, data removed);
5. node1 is restored from the pgBackRest repository to T and promoted
   (`ha/pitr.py restore T`);
6. `flask ledger verify` must pass, every inspection answered before T must be there
   with its points, none answered after T, and a key answered before T is replayed;
7. the pair is rebuilt (`ha/pitr.py rebuild`: node1 primary, node2 its new
   synchronous standby, a full backup) and takes a grade again.

Exit 0 only then; a short report is printed either way. PITR_WRITES (default 40) sets
the inspections on each side of T. `make ha-down` removes the cluster afterwards.
Runs in the project's virtualenv (it imports the app); the cluster scripts beside it
stay standard library only.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text

from app import create_app
from app.auth.models import ADMIN, INSPECTOR
from app.auth.services import create_user, issue_token
from app.db import db
from app.households.services import create_household
from app.inspections.models import Inspection
from app.ledger.models import Account
from app.office.services import create_village
from app.rules.services import DEFAULT_GRADES, Grade, set_rules
from app.villages.services import create_grid, village_by_code

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HA = Path(os.environ.get("HA_DIR", ROOT / ".ha")).resolve()
WRITES = int(os.environ.get("PITR_WRITES", "40"))
HOUSEHOLDS = max(20, WRITES // 4)  # within the daily limit: 2 x WRITES + 1 grades
POINTS = 3  # grade A under the default rules
DAILY_LIMIT = 10


class DrillFailed(Exception):
    """The drill found a loss, an extra write, or a step that did not work."""


def main() -> int:
    started = time.monotonic()
    steps: list[str] = []

    def step(message: str) -> None:
        steps.append(f"{time.monotonic() - started:6.1f} s  {message}")
        print(f"pitr-drill: {message}", flush=True)

    try:
        drill(step)
    except DrillFailed as error:
        print(f"\npitr-drill: FAILED: {error}", file=sys.stderr)
        return 1
    print("\nPITR drill: passed")
    print("\n".join(f"  {line}" for line in steps))
    print(f"  total {time.monotonic() - started:.0f} s")
    return 0


def drill(step) -> None:
    settings = read_env()
    flask("db", "upgrade", settings=settings)
    app = make_app(settings)
    with app.app_context():
        village_code, token, households = seed()
        headers = {"Authorization": f"Bearer {token}"}
        client = app.test_client()
        before = credit(client, headers, households, WRITES)
        target = db.session.scalar(text("SELECT clock_timestamp()"))
        db.session.remove()
        target_text = target.isoformat(sep=" ")
        step(f"{len(before)} inspections answered 201; T = {target_text}")
        ha("archive")
        step("the WAL up to T is in the repository")
        after = credit(client, headers, households, WRITES)
        ha("archive")
        step(f"{len(after)} more inspections answered 201 after T, archived")
        db.session.remove()
        db.engine.dispose()

    ha("destroy")
    step("both nodes destroyed: processes killed, data folders removed")
    restoring = time.monotonic()
    ha("restore", target_text)
    step(f"node1 restored to T and promoted in {time.monotonic() - restoring:.1f} s")

    verified = flask("ledger", "verify", settings=settings)
    step(f"flask ledger verify passed: {last_line(verified)}")
    app = make_app(settings)
    with app.app_context():
        try:
            check(app, village_code, households, before, after, token)
        finally:
            db.session.remove()
            db.engine.dispose()
    step(
        f"all {len(before)} inspections before T are there with their points, "
        f"none of the {len(after)} after T; a key answered before T replays"
    )
    ha("rebuild")
    app = make_app(settings)
    with app.app_context():
        try:
            again = credit(app.test_client(), {"Authorization": f"Bearer {token}"}, households, 1)
        finally:
            db.session.remove()
            db.engine.dispose()
    status = subprocess.run(
        ["python3", str(HERE / "cluster.py"), "status"], capture_output=True, text=True
    )
    if status.returncode != 0:
        raise DrillFailed(f"the rebuilt pair is not healthy:\n{status.stdout}")
    step(
        f"the pair rebuilt (node1 primary, node2 its synchronous standby, a full backup); "
        f"{len(again)} new grade answered 201"
    )


def read_env() -> dict[str, str]:
    """The settings `make ha-up` wrote to $HA_DIR/env."""
    if not (HA / "env").exists():
        raise DrillFailed(f"no cluster at {HA}: run `make ha-up` first")
    found = {}
    for line in (HA / "env").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            found[name] = value.strip("'")
    return found


def make_app(settings: dict[str, str]):
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": settings["DATABASE_URL"], "SECRET_KEY": "pitr-drill"}
    )


def run(command: list[str], **kwargs) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise DrillFailed(f"{' '.join(command[:4])} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def ha(*args: str) -> str:
    """A command of ha/pitr.py (the runbook's own tool), with the cluster's settings."""
    return run(["python3", str(HERE / "pitr.py"), *args], timeout=600)


def flask(*args: str, settings: dict[str, str]) -> str:
    command = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args]
    env = {**os.environ, "DATABASE_URL": settings["DATABASE_URL"]}
    return run(command, env=env, timeout=300)


def last_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def seed() -> tuple[str, str, list[int]]:
    """A village of its own for this drill (a second drill on the cluster makes another)."""
    code = "PITR" + uuid.uuid4().hex[:8].upper()
    village = create_village("演练村", code)
    set_rules(village.id, [Grade(*g) for g in DEFAULT_GRADES], DAILY_LIMIT, actor_id=None)
    grid = create_grid(village.id, "演练网格")
    households = [
        create_household(village, grid, f"演练户{i}", f"演练路{i}号") for i in range(HOUSEHOLDS)
    ]
    password = uuid.uuid4().hex
    inspector = create_user(village, f"{code.lower()}-inspector", password, INSPECTOR)
    create_user(village, f"{code.lower()}-admin", password, ADMIN)
    db.session.commit()
    token = issue_token(inspector).token
    db.session.commit()
    return code, token, [h.id for h in households]


def credit(client, headers: dict, households: list[int], count: int) -> dict[str, tuple]:
    """Send `count` grades; return each answered one's key -> (household, inspection id)."""
    answered = {}
    for n in range(count):
        household = households[n % len(households)]
        key = uuid.uuid4().hex
        response = client.post(
            "/api/v1/inspections",
            json={"household_id": household, "grade": "A"},
            headers={**headers, "Idempotency-Key": key},
        )
        if response.status_code != 201:
            raise DrillFailed(f"a grade was answered {response.status_code}: {response.text}")
        answered[key] = (household, response.json["id"])
    return answered


def check(app, code, households, before, after, token) -> None:
    """Everything answered before T, nothing after, the balances theirs, a key replayed."""
    village = village_by_code(code)
    mine = Inspection.village_id == village.id
    found = set(db.session.scalars(select(Inspection.id).where(mine)))
    wanted = {inspection for _, inspection in before.values()}
    lost = wanted - found
    if lost:
        raise DrillFailed(f"{len(lost)} inspections answered before T are gone: {sorted(lost)[:5]}")
    extra = found - wanted
    if extra:
        later = extra & {inspection for _, inspection in after.values()}
        raise DrillFailed(
            f"{len(extra)} inspections not answered before T are there ({len(later)} after T)"
        )
    expected = {household: 0 for household in households}
    for household, _ in before.values():
        expected[household] += POINTS
    balances = dict(
        db.session.execute(
            select(Account.household_id, Account.balance).where(
                Account.household_id.in_(households)
            )
        ).all()
    )
    if balances != expected:
        wrong = {h: (balances.get(h), p) for h, p in expected.items() if balances.get(h) != p}
        raise DrillFailed(f"balances (found, expected) differ: {wrong}")
    total = db.session.scalar(select(func.count(Inspection.id)).where(mine))
    if total != len(before):
        raise DrillFailed(f"{total} inspections in the village, {len(before)} answered before T")
    key, (household, inspection) = next(iter(before.items()))
    replay = app.test_client().post(
        "/api/v1/inspections",
        json={"household_id": household, "grade": "A"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )
    if replay.status_code != 201 or replay.headers.get("Idempotent-Replayed") != "true":
        raise DrillFailed(f"a key answered before T was not replayed: {replay.status_code}")
    if replay.json["id"] != inspection:
        raise DrillFailed("a key answered before T replayed another inspection")


if __name__ == "__main__":
    sys.exit(main())
