"""Time the counter's search at 20,000 households: `.venv/bin/python -m bench.counter_search`.

A fresh SQLite database (migrated like production) gets a village of HOUSEHOLDS
households with Chinese names, their pinyin keys and accounts, plus a second village
of the same size (its rows must cost nothing to skip). Then each kind of search the
counter types (pinyin initials, full pinyin, phone, code, name, address, nothing
found) runs through the API's own function, ROUNDS times; the median and the worst
are printed. Issue 15 asks for under 100 ms on SQLite. Not a test: numbers vary.
"""

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import insert, select

from app import create_app
from app.db import db
from app.households.models import Household
from app.households.pinyin import name_keys
from app.households.services import search_households
from app.ledger.models import Account
from app.office.services import create_village
from app.villages.services import create_grid

HOUSEHOLDS = 20_000
GRIDS = 20
ROUNDS = 30
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单"
)
GIVEN = "建国华明秀英兰桂芳丽强军平伟红霞玉珍海燕德长顺春梅志刚福贵宝山金凤云龙文杰小东南北"


def fill_village(code: str, seed: int) -> int:
    """Add a village of HOUSEHOLDS households (names, keys, accounts); return its id."""
    rng = random.Random(seed)
    village = create_village(f"村{code}", code)
    grids = [create_grid(village.id, f"网格{n}") for n in range(1, GRIDS + 1)]
    db.session.flush()
    rows = []
    for n in range(HOUSEHOLDS):
        grid = grids[n % GRIDS]
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        full, initials = name_keys(name)
        rows.append(
            {
                "village_id": village.id,
                "grid_id": grid.id,
                "code": f"{code}-{grid.number:02d}-{n // GRIDS + 1:04d}",
                "name": name,
                "address": f"{code}村{grid.number}组 幸福路{n}号",
                "phone": f"13{rng.randrange(10**9):09d}",
                "name_pinyin": full,
                "name_initials": initials,
            }
        )
    db.session.execute(insert(Household), rows)
    ids = db.session.scalars(select(Household.id).where(Household.village_id == village.id))
    db.session.execute(
        insert(Account),
        [
            {"village_id": village.id, "kind": "household", "household_id": hid, "balance": 0}
            for hid in ids
        ],
    )
    db.session.commit()
    return village.id


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "search.db"
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench-only"}
        )
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            village_id = fill_village("MZ", 1)
            fill_village("XC", 2)
            print(f"{2 * HOUSEHOLDS} households in {time.perf_counter() - started:.1f} s")
            sample = db.session.scalars(
                select(Household).where(Household.village_id == village_id).limit(1).offset(777)
            ).one()
            queries = {
                "pinyin initials": sample.name_initials.split()[0],
                "full pinyin": sample.name_pinyin.split()[0],
                "phone (last 4)": (sample.phone or "")[-4:],
                "code": sample.code,
                "name": sample.name,
                "address": "幸福路777号",
                "nothing found": "无此人",
            }
            worst_median = 0.0
            for label, q in queries.items():
                times = []
                for _ in range(ROUNDS):
                    start = time.perf_counter()
                    rows, total = search_households(village_id, q=q, per_page=20)
                    times.append((time.perf_counter() - start) * 1000)
                median = statistics.median(times)
                worst_median = max(worst_median, median)
                print(
                    f"{label:16} q={q!r:18} found {total:5}  "
                    f"median {median:6.1f} ms  worst {max(times):6.1f} ms"
                )
            verdict = "under" if worst_median < 100 else "OVER"
            print(f"slowest median {worst_median:.1f} ms: {verdict} the 100 ms of issue 15")
            sys.exit(0 if worst_median < 100 else 1)


if __name__ == "__main__":
    main()
