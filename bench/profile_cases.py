"""Seed a small village on PostgreSQL and run only the in-process profile of the case writes.

    .venv/bin/python -m bench.profile_cases

A quick check of what `make bench` adds (a household's report, a worker's resolve)
without the load: BENCH_HOUSEHOLDS (default here 300) households, BENCH_PROFILE_REQUESTS
(default 200) requests a mode, profiles written to bench/profile-<mode>.txt, the
database bench_greenpoints_cases dropped at the end (BENCH_KEEP=1 keeps it).
"""

import os

from app.db import db
from bench import report, seed
from bench.load import CASES, RESOLVES, Target
from bench.profile import profile_endpoint
from bench.run import Postgres, flask_db_upgrade, make_app, say
from bench.settings import BENCH, ROOT, Settings

DATABASE = "bench_greenpoints_cases"


def main() -> None:
    os.environ.setdefault("BENCH_HOUSEHOLDS", "300")
    os.environ.setdefault("BENCH_GRIDS", "3")
    settings = Settings()
    postgres = Postgres(settings.pg_url)
    database_url = postgres.create(DATABASE)
    try:
        flask_db_upgrade(database_url, settings.port)
        app = make_app(database_url, settings.port)
        with app.app_context():
            village = seed.create_bench_village(settings.goods)
            households = seed.seed_households(
                village, settings.grids, settings.households, opening=settings.opening_points
            )
            seed.seed_case_users(households)
            db.session.remove()
        client = app.test_client()
        users = {**seed.USERS, **seed.CASE_USERS}
        tokens = {}
        for role, username in users.items():
            answer = client.post(
                "/api/v1/auth/tokens", json={"username": username, "password": seed.PASSWORD}
            )
            if answer.status_code != 201 or answer.json is None:
                raise RuntimeError(f"log in as {username}: {answer.status_code} {answer.text}")
            tokens[role] = answer.json["token"]
        rules = client.put(
            "/api/v1/rules", json=seed.RULES, headers={"Authorization": f"Bearer {tokens['admin']}"}
        )
        if rules.status_code != 200:
            raise RuntimeError(f"PUT /api/v1/rules answered {rules.status_code}: {rules.text}")
        target = Target(
            port=settings.port,
            first_household=households.first_id,
            households=households.count,
            good_ids=village.good_ids,
            tokens={CASES: tokens["resident"], RESOLVES: tokens["worker"]},
            next_number={CASES: 0, RESOLVES: 0},
        )
        results = report.Results(settings=settings, machine={})
        for mode in (CASES, RESOLVES):
            summary = profile_endpoint(
                app, target, mode, settings.profile_requests, BENCH / f"profile-{mode}.txt"
            )
            results.profiles.append(summary)
            say(
                f"{mode}: {summary.plain_ms_per_request:.2f} ms a request "
                f"({summary.cpu_ms_per_request:.2f} ms CPU), "
                f"{summary.statements_per_request:.1f} SQL statements; profiled "
                f"{summary.ms_per_request:.2f} ms, {summary.database_ms_per_request:.2f} ms "
                f"of it in the driver -> {summary.path.relative_to(ROOT)}"
            )
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        if not settings.keep:
            postgres.drop(DATABASE)


if __name__ == "__main__":
    main()
