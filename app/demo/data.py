"""Build the demo village 马庄村 with deterministic, plausible data."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.auth.services import create_user
from app.catalogue.services import create_good
from app.db import db, utcnow
from app.households.services import create_household
from app.inspections.services import record_inspection
from app.ledger.services import adjust, household_balance
from app.redemptions.services import LineRequest, redeem_goods
from app.villages.models import Village
from app.villages.services import create_grid, create_village

VILLAGE_NAME = "马庄村"
VILLAGE_CODE = "MZ"
GRID_NAMES = ("东一网格", "东二网格", "西一网格", "西二网格", "南网格", "北网格")
HOUSEHOLDS = 120
SURNAMES = "马王李张刘陈杨赵黄周吴徐孙胡朱高林何郭罗"
GIVEN = (
    "建国",
    "秀英",
    "桂兰",
    "志强",
    "海燕",
    "玉珍",
    "国华",
    "德明",
    "春梅",
    "金凤",
    "立新",
    "红霞",
    "永福",
    "淑芬",
    "长顺",
    "小军",
    "丽娟",
    "宝山",
    "翠花",
    "文革",
    "家乐",
    "振华",
    "凤英",
    "广平",
    "素梅",
    "俊杰",
    "雪莲",
    "守仁",
    "晓东",
    "福生",
)
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


# A village points shop: everyday goods, priced in points.
CATALOGUE = (
    ("洗衣粉", "袋", 30, 40, "清洁用品"),
    ("洗洁精", "瓶", 25, 30, "清洁用品"),
    ("香皂", "块", 10, 60, "清洁用品"),
    ("牙膏", "支", 15, 35, "个人护理"),
    ("卫生纸", "提", 40, 20, "生活用品"),
    ("食用油", "桶", 120, 12, "粮油"),
    ("食盐", "袋", 8, 50, "粮油"),
    ("酱油", "瓶", 20, 25, "粮油"),
    ("垃圾袋", "卷", 12, 4, "生活用品"),
    ("毛巾", "条", 35, 15, "生活用品"),
)

# A realistic spread: most households sort well, a few keep getting it wrong.
GRADE_WEIGHTS = {"A": 55, "B": 25, "C": 12, "D": 8}
DEMO_DAYS = 30


def load_demo(seed: int = 2026, *, now: datetime | None = None) -> Village:
    """Create the demo village with a month of inspections; the caller commits."""
    rng = random.Random(seed)
    now = now or utcnow()
    start = now - timedelta(days=DEMO_DAYS + 1)
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
        household = create_household(
            village, grid, name, address, phone=phone, members=rng.randint(1, 6)
        )
        households.append(household)
        # Villages start from paper cards: carry the old balance over.
        opening = rng.choice((0, 0, 5, 8, 12, 15, 20, 26, 31))
        if opening:
            adjust(
                village.id,
                household.id,
                opening,
                reason="期初积分（纸质积分卡结转）",
                actor_id=admin.id,
                at=start,
            )
    users = {
        login.role: create_user(
            village,
            login.username,
            login.password,
            login.role,
            household=households[0] if login.role == HOUSEHOLD else None,
        )
        for login in DEMO_LOGINS[1:]
    }
    inspect_a_month(households, users[INSPECTOR], rng, now)
    stock_the_shop(village, households, users[STOREKEEPER], rng, now)
    return village


def stock_the_shop(
    village: Village, households: list, storekeeper, rng: random.Random, now: datetime
) -> None:
    """Fill the catalogue, then let some households trade points for goods last week."""
    goods = [
        create_good(
            village.id,
            name=name,
            unit=unit,
            price_points=price,
            stock=stock,
            category=category,
            actor_id=storekeeper.id,
            supplier="镇供销社",
        )
        for name, unit, price, stock, category in CATALOGUE
    ]
    affordable = [g for g in goods if g.price_points <= 40]
    for index, household in enumerate(rng.sample(households, 25)):
        balance = household_balance(household.id)
        picks = [g for g in affordable if g.price_points <= balance and g.stock > 2]
        if not picks:
            continue
        good = rng.choice(picks)
        redeem_goods(
            household,
            storekeeper,
            [LineRequest(good.id, 1)],
            at=now - timedelta(days=3, minutes=-10 * index),
        )


def inspect_a_month(households: list, inspector, rng: random.Random, now: datetime) -> None:
    """Walk the grids every morning for a month; most doors get a grade."""
    # Each household has its habits: some are inspected nearly daily and sort well.
    habits = {h.id: (rng.uniform(0.45, 0.95), rng.uniform(-0.15, 0.25)) for h in households}
    grades = list(GRADE_WEIGHTS)
    for days_ago in range(DEMO_DAYS, 0, -1):
        morning = (now - timedelta(days=days_ago)).replace(
            hour=0, minute=30, second=0, microsecond=0
        )
        for index, household in enumerate(households):
            presence, skill = habits[household.id]
            if rng.random() > presence:
                continue
            weights = [
                GRADE_WEIGHTS["A"] * (1 + skill),
                GRADE_WEIGHTS["B"],
                GRADE_WEIGHTS["C"] * (1 - skill),
                GRADE_WEIGHTS["D"] * (1 - 2 * skill),
            ]
            grade = rng.choices(grades, weights=[max(w, 1) for w in weights])[0]
            record_inspection(
                household, inspector, grade, at=morning + timedelta(minutes=2 * index)
            )
