"""Time how soon a large ledger export starts: `.venv/bin/python -m bench.ledger_export`.

Seeds a village of 25,000 households, each with an opening balance (one ledger
entry a household, 50,000 entries with the system side), in a fresh SQLite file
(or the empty database of BENCH_EXPORT_DATABASE_URL), then asks the reports page
for the month's ledger as CSV and times the first bytes and the whole file. The
CSV streams: its first bytes must leave in under a second however many rows follow.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from app import create_app

HOUSEHOLDS = 25_000
GRIDS = 25
FIRST_BYTES_WITHIN = 1.0  # seconds


def main() -> int:
    from flask_migrate import upgrade

    from app.auth.models import ADMIN
    from bench.seed import PASSWORD, USERS, create_bench_village, seed_households

    folder = Path(tempfile.mkdtemp(prefix="gp-export-bench-"))
    url = os.environ.get("BENCH_EXPORT_DATABASE_URL") or f"sqlite:///{folder / 'bench.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-secret",
            "BASE_URL": "http://192.168.1.10:5000",
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        village = create_bench_village(goods=1)
        start = time.perf_counter()
        seed_households(village, GRIDS, HOUSEHOLDS, opening=10)
        print(f"seeded {HOUSEHOLDS} households in {time.perf_counter() - start:.1f} s")
    client = app.test_client()
    username = USERS[ADMIN]
    login = client.post("/login", data={"username": username, "password": PASSWORD})
    if login.status_code not in (302, 303):
        print(f"could not log in: {login.status_code}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    response = client.get("/admin/reports/export/ledger.csv", buffered=False)
    body = iter(response.response)
    first = next(body)
    first_at = time.perf_counter() - start
    size = len(first) + sum(len(chunk) for chunk in body)
    whole_at = time.perf_counter() - start
    response.close()
    print(
        f"ledger.csv of {HOUSEHOLDS} households: status {response.status_code}, "
        f"first bytes after {first_at * 1000:.0f} ms, {size / 1024 / 1024:.1f} MB "
        f"in {whole_at:.1f} s"
    )
    if "BENCH_EXPORT_DATABASE_URL" not in os.environ:
        shutil.rmtree(folder, ignore_errors=True)
    ok = response.status_code == 200 and first_at < FIRST_BYTES_WITHIN
    print("OK: starts in under a second" if ok else "TOO SLOW: the export must start within 1 s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
