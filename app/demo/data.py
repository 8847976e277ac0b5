"""Build the demo village 马庄村 with deterministic, plausible data."""

import random
from dataclasses import dataclass

from sqlalchemy import select

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.auth.services import create_user
from app.db import db
from app.households.services import create_household
from app.ledger.services import adjust
from app.villages.models import Village
from app.villages.services import create_grid, create_village

VILLAGE_NAME = "马庄村"
VILLAGE_CODE = "MZ"
GRID_NAMES = ("东一网格", "东二网格", "西一网格", "西二网格", "南网格", "北网格")
HOUSEHOLDS = 120
SURNAMES = "马王李张刘陈杨赵黄周吴徐孙胡朱高林何郭罗"
GIVEN = ("建国", "秀英", "桂兰", "志强", "海燕", "玉珍", "国华", "德明", "春梅", "金凤",
         "立新", "红霞", "永福", "淑芬", "长顺", "小军", "丽娟", "宝山", "翠花", "文革",
         "家乐", "振华", "凤英", "广平", "素梅", "俊杰", "雪莲", "守仁", "晓东", "福生")
STREETS = ("幸福路", "光明街", "和平巷", "新村路", "河东街", "果园路")


@dataclass(frozen=True)
class Login:
    role: str
    username: str
    password: str


DEMO_LOGINS = (
    Login(ADMIN, "admin", "mz-admin-2026"),
    Login(INSPECTOR, "inspector", "mz-inspect-2026"),
    Login(STOREKEEPER, "storekeeper", "mz-shop-2026"),
    Login(HOUSEHOLD, "household", "mz-home-2026"),
)


def database_is_empty() -> bool:
    """Tell whether the database holds no village yet."""
    return db.session.scalar(select(Village.id).limit(1)) is None


def demo_village() -> Village | None:
    """Return the demo village if this database holds it."""
    return db.session.scalar(select(Village).where(Village.code == VILLAGE_CODE))


def load_demo(seed: int = 2026) -> Village:
    """Create the demo village; the caller commits."""
    rng = random.Random(seed)
    village = create_village(VILLAGE_NAME, VILLAGE_CODE, "Asia/Shanghai")
    grids = [create_grid(village.id, name) for name in GRID_NAMES]
    admin = create_user(village, DEMO_LOGINS[0].username, DEMO_LOGINS[0].password, ADMIN)
    households = []
    for index in range(HOUSEHOLDS):
        grid = grids[index % len(grids)]
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        street = STREETS[index % len(STREETS)]
        address = f"{VILLAGE_NAME}{grid.number}组 {street}{rng.randint(1, 99)}号"
        phone = f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}"
        household = create_household(village, grid, name, address, phone=phone,
                                     members=rng.randint(1, 6))
        households.append(household)
        # Villages start from paper cards: carry the old balance over.
        opening = rng.choice((0, 0, 5, 8, 12, 15, 20, 26, 31))
        if opening:
            adjust(village.id, household.id, opening, reason="期初积分（纸质积分卡结转）",
                   actor_id=admin.id)
    for login in DEMO_LOGINS[1:]:
        create_user(village, login.username, login.password, login.role,
                    household=households[0] if login.role == HOUSEHOLD else None)
    return village
