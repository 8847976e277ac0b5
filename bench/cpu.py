"""App CPU a single write costs, in-process, on a fresh PostgreSQL database.

usage: python -m bench.cpu [N] [--profile inspections|redemptions] [--sort tottime]

Creates a throw-away database, seeds a village (5000 households with an opening
balance, a catalogue), then sends N single credits (POST /api/v1/inspections) and N
single redemptions (POST /api/v1/redemptions) through Flask's test client, and prints
for each the CPU time of this process per request (time.process_time, which a wait on
the database does not count) and the SQL statements of one request. CPU time per
request is fairly stable on a busy machine, unlike throughput: compare before and
after in the same conditions, over several runs. `make bench` remains the measure of
throughput; this is the quick one for app CPU.
"""

import argparse
import cProfile
import pstats
import sys
import time
import uuid
from collections.abc import Callable

import psycopg
from sqlalchemy import event

from app import create_app
from app.auth.services import issue_token
from app.db import db

sys.path.insert(0, "tests")
from testsupport import TEST_CONFIG  # noqa: E402

from bench import seed  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
HOUSEHOLDS = 5000
WARM_UP = 30


def _bodies(first: int, good_ids: tuple[int, ...]) -> dict[str, Callable[[int], dict]]:
    return {
        "inspections": lambda i: {"household_id": first + i % HOUSEHOLDS, "grade": "A"},
        "redemptions": lambda i: {
            "household_id": first + i % HOUSEHOLDS,
            "lines": [{"good_id": good_ids[i % len(good_ids)], "quantity": 1}],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=300)
    parser.add_argument("--profile", choices=("inspections", "redemptions"))
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--callers", help="also print the callers of functions matching this")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of n; the best is shown")
    parser.add_argument("--sql", action="store_true", help="print one request's SQL")
    parser.add_argument("--only", nargs="*", help="pstats restrictions, e.g. app/ 60")
    args = parser.parse_args()
    name = "bench_cpu_" + uuid.uuid4().hex[:8]
    with psycopg.connect(SERVER, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    config = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url, "GREENPOINTS_ENV": "production"}
    app = None
    try:
        app = create_app(config)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            village = seed.create_bench_village(goods=10)
            households = seed.seed_households(village, 4, HOUSEHOLDS, opening=100_000)
            tokens = {}
            from app.auth.models import User

            for role, username in seed.USERS.items():
                user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one()
                tokens[role] = issue_token(user).token
            db.session.commit()
            engine = db.engine
        client = app.test_client()
        bodies = _bodies(households.first_id, village.good_ids)
        who = {"inspections": "inspector", "redemptions": "storekeeper"}
        counter = {"n": 0}

        def send(mode: str) -> None:
            counter["n"] += 1
            i = counter["n"]
            r = client.post(
                f"/api/v1/{mode}",
                json=bodies[mode](i),
                headers={
                    "Authorization": f"Bearer {tokens[who[mode]]}",
                    "Idempotency-Key": f"cpu-{mode}-{i}",
                },
            )
            assert r.status_code == 201, (r.status_code, r.get_json())

        for mode in ("inspections", "redemptions"):
            for _ in range(WARM_UP):
                send(mode)
            seen: list[str] = []

            def before(_c, _cur, statement, _p, _ctx, _m, seen=seen):
                seen.append(" ".join(statement.split())[:200])

            event.listen(engine, "before_cursor_execute", before)
            send(mode)
            event.remove(engine, "before_cursor_execute", before)
            rounds = []
            for _ in range(args.rounds):
                started = time.process_time()
                for _ in range(args.n):
                    send(mode)
                rounds.append(1000 * (time.process_time() - started) / args.n)
            shown = " ".join(f"{r:.2f}" for r in rounds)
            print(
                f"{mode}: {min(rounds):.2f} ms CPU/request at best ({shown}), "
                f"{len(seen)} statements"
            )
            if args.sql:
                print("\n".join(f"  {k:2d}. {s}" for k, s in enumerate(seen, 1)))
            if args.profile == mode:
                prof = cProfile.Profile(time.process_time)
                prof.enable()
                for _ in range(args.n):
                    send(mode)
                prof.disable()
                only = [int(a) if a.isdigit() else a for a in (args.only or ["50"])]
                stats = pstats.Stats(prof).sort_stats(args.sort)
                stats.print_stats(*only)
                if args.callers:
                    stats.print_callers(args.callers)
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        with psycopg.connect(SERVER, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
