"""Finding a household without its card: GET /api/v1/households?q= (issue 15)."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.db import db
from app.households.models import Household
from app.households.services import update_household


@pytest.fixture
def residents(make_household, make_grid, other_village, make_household_elsewhere):
    """A few households of the village, and a 周长顺 of another village."""
    made = [
        make_household(name="周长顺", address="马庄村1组 幸福路8号", phone="13800001234"),
        make_household(name="王建国", address="马庄村2组 和平路3号", phone="13900005678"),
        make_household(name="王建华", address="马庄村3组 和平路9号"),
        make_household(name="单田芳", address="马庄村1组 东街1号"),
    ]
    make_household_elsewhere()
    return made


@pytest.fixture
def make_household_elsewhere(make_household, other_village):
    def make():
        return make_household(of=other_village, name="周长顺", phone="13800001234")

    return make


@pytest.fixture
def search(client, storekeeper_headers):
    def run(q: str) -> list[str]:
        response = client.get(
            "/api/v1/households", query_string={"q": q}, headers=storekeeper_headers
        )
        assert response.status_code == 200, response.get_json()
        return [item["name"] for item in response.get_json()["items"]]

    return run


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("zcs", ["周长顺"]),
        ("ZCS", ["周长顺"]),
        ("zhouchangshun", ["周长顺"]),
        ("Zhou Chang Shun", ["周长顺"]),
        ("changshun", ["周长顺"]),
        ("wjg", ["王建国"]),
        ("wangjian", ["王建国", "王建华"]),
        ("shantianfang", ["单田芳"]),  # the surname's reading, not the common one
        ("stf", ["单田芳"]),
        ("13800001234", ["周长顺"]),
        ("5678", ["王建国"]),
        ("和平路", ["王建国", "王建华"]),
        ("长顺", ["周长顺"]),
        ("xyz", []),
    ],
)
def test_search_by_pinyin_phone_address_and_name(search, residents, q, names):
    assert sorted(search(q)) == sorted(names)


def test_search_by_code(search, residents):
    assert search(residents[1].code) == ["王建国"]
    assert search(residents[1].code.lower()) == ["王建国"]


def test_search_matches_wildcards_as_themselves_and_ignores_latin_case(
    search, residents, make_household
):
    make_household(name="李梅", address="东区 A_1%栋")
    make_household(name="张兰", address="东区 AB1X栋")

    assert search("a_1%") == ["李梅"]  # _ and % are no wildcards, on either engine
    assert search("ab1x") == ["张兰"]
    assert search("\\") == []


def test_another_village_is_never_found(client, residents, make_user, other_village, token_for):
    from app.auth.models import STOREKEEPER

    elsewhere = token_for(make_user(STOREKEEPER, of=other_village))
    found = client.get("/api/v1/households?q=zcs", headers=elsewhere).get_json()["items"]
    assert [(h["name"], h["id"]) for h in found] == [("周长顺", found[0]["id"])]
    assert found[0]["id"] not in {h.id for h in residents}


def test_a_renamed_household_is_found_by_its_new_pinyin(search, residents):
    update_household(residents[2], {"name": "李乐"})
    db.session.commit()

    assert search("lile") == ["李乐"]
    assert search("wjh") == []


def test_the_migration_gives_existing_households_their_keys(app, search, residents):
    wang = residents[1].id
    db.session.remove()
    downgrade(revision="0007")
    upgrade()
    db.session.remove()
    keys = db.session.execute(
        text("SELECT name_pinyin, name_initials FROM households WHERE name = '王建国'")
    ).one()
    assert tuple(keys) == ("wangjianguo yujianguo", "wjg yjg")
    assert search("wjg") == ["王建国"]
    assert db.session.get(Household, wang).name_initials == "wjg yjg"
