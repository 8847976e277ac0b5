"""Build the demo village 马庄村 with deterministic, plausible data."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.auth.services import create_user
from app.catalogue.models import Good, StockMovement
from app.catalogue.services import create_good
from app.db import db, utcnow
from app.households.services import create_household
from app.inspections.services import record_inspection
from app.ledger.services import adjust, household_balance
from app.office.services import create_village
from app.redemptions.services import LineRequest, redeem_goods
from app.villages.models import Village
from app.villages.services import create_grid

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


# A village points shop: everyday goods, priced in points, with what a unit cost (fen).
CATALOGUE = (
    ("洗衣粉", "袋", 30, 40, "清洁用品", 850),
    ("洗洁精", "瓶", 25, 30, "清洁用品", 650),
    ("香皂", "块", 10, 60, "清洁用品", 300),
    ("牙膏", "支", 15, 35, "个人护理", 450),
    ("卫生纸", "提", 40, 20, "生活用品", 1200),
    ("食用油", "桶", 120, 12, "粮油", 3990),
    ("食盐", "袋", 8, 50, "粮油", 250),
    ("酱油", "瓶", 20, 25, "粮油", 580),
    ("垃圾袋", "卷", 12, 4, "生活用品", 350),
    ("毛巾", "条", 35, 15, "生活用品", 990),
)

# A realistic spread: most households sort well, a few keep getting it wrong.
GRADE_WEIGHTS = {"A": 55, "B": 25, "C": 12, "D": 8}
DEMO_DAYS = 30


def load_demo(seed: int = 2026, *, now: datetime | None = None) -> Village:
    """Create the demo village with a month of history; the caller commits.

    The history is posted in the order it is dated, so every running balance
    (points and stock) follows the dates: opening balances, then the shop's opening
    stock, then each day's inspections, then that day's redemptions, which spend
    only points already earned.
    """
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
    goods = open_the_shop(village, users[STOREKEEPER], start + timedelta(minutes=1))
    shoppers = rng.sample(households, SHOPPERS)
    habits = household_habits(households, rng)
    for days_ago in range(DEMO_DAYS, 0, -1):
        day = now - timedelta(days=days_ago)
        inspect_a_morning(households, habits, users[INSPECTOR], rng, day)
        if days_ago <= SHOP_DAYS:
            today = [h for i, h in enumerate(shoppers) if i % SHOP_DAYS == days_ago % SHOP_DAYS]
            shop_an_afternoon(today, goods, users[STOREKEEPER], rng, day)
    return village


# Households that trade points for goods in the last SHOP_DAYS days of the demo.
SHOPPERS = 25
SHOP_DAYS = 7


def date_stock_movements(where, at: datetime) -> None:
    """Date the stock movements chosen by where at the moment the demo's story has them.

    The stock writers stamp the clock's time; the demo's history lies in the past.
    """
    db.session.execute(update(StockMovement).where(where).values(created_at=at))


def open_the_shop(village: Village, storekeeper, at: datetime) -> list[Good]:
    """Fill the catalogue with its opening stock, dated when the shop opened."""
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
            cost_cents=cost,
        )
        for name, unit, price, stock, category, cost in CATALOGUE
    ]
    for good in goods:
        good.created_at = at
    date_stock_movements(StockMovement.village_id == village.id, at)
    db.session.flush()
    return goods


def shop_an_afternoon(
    households: list, goods: list[Good], storekeeper, rng: random.Random, day: datetime
) -> None:
    """Let the day's shoppers each take one good they can afford, in the afternoon."""
    afternoon = day.replace(hour=7, minute=0, second=0, microsecond=0)
    affordable = [g for g in goods if g.price_points <= 40]
    for index, household in enumerate(households):
        balance = household_balance(household.id)
        picks = [g for g in affordable if g.price_points <= balance and g.stock > 2]
        if not picks:
            continue
        at = afternoon + timedelta(minutes=10 * index)
        result = redeem_goods(household, storekeeper, [LineRequest(rng.choice(picks).id, 1)], at=at)
        date_stock_movements(StockMovement.redemption_id == result.redemption.id, at)


def household_habits(households: list, rng: random.Random) -> dict[int, tuple[float, float]]:
    """Each household's habits: how often it is home, how well it sorts."""
    return {h.id: (rng.uniform(0.45, 0.95), rng.uniform(-0.15, 0.25)) for h in households}


def inspect_a_morning(
    households: list, habits: dict, inspector, rng: random.Random, day: datetime
) -> None:
    """Walk the grids one morning; most doors get a grade."""
    grades = list(GRADE_WEIGHTS)
    morning = day.replace(hour=0, minute=30, second=0, microsecond=0)
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
        record_inspection(household, inspector, grade, at=morning + timedelta(minutes=2 * index))
