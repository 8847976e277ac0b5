"""A 0-point grade reaches the household: note and photo on /my; at the door, the grade.

The note is the household's: the door page shows it only to the household's own login.
"""

from datetime import timedelta

import pytest
from testsupport import log_in, png_bytes

from app.auth.models import HOUSEHOLD
from app.db import db, utcnow
from app.households.cards import make_token
from app.inspections.services import record_inspection, void_inspection
from app.photos import store_photo

pytestmark = pytest.mark.usefixtures("photo_folder")
NOTE = "厨余桶里有塑料袋和玻璃瓶"


@pytest.fixture
def graded(village, make_household, make_user):
    """Two households: the first graded 差 with a note and a photo, and 优 later."""
    household, neighbour = make_household(name="马秀利"), make_household(name="周长顺")
    make_user(HOUSEHOLD, household=household, username="ma-home")
    make_user(HOUSEHOLD, household=neighbour, username="zhou-home")
    inspector = make_user("inspector", username="li-inspect")
    poor = record_inspection(household, inspector, "D", note=NOTE, at=utcnow() - timedelta(days=1))
    poor.photo = store_photo(png_bytes((64, 48), (90, 140, 60)))
    record_inspection(household, inspector, "A", note="分得很好")
    db.session.commit()
    return household, poor.id


def test_the_household_sees_the_grade_its_note_and_its_photo(client, graded):
    household, poor_id = graded
    log_in(client, "ma-home")
    page = client.get("/my").text
    assert "督导员的反馈" in page
    assert "差 (D)" in page and NOTE in page
    feedback = page.split("data-feedback>", 1)[1].split("</section>", 1)[0]
    assert "分得很好" not in feedback  # a grade that earned points is no feedback
    # ... its note is read beside the points it earned, in the statement (issue 33).
    assert "督导员备注：分得很好" in page
    photo_url = f"/my/feedback/{poor_id}/photo"
    assert f'src="{photo_url}"' in page
    photo = client.get(photo_url)
    assert photo.status_code == 200
    assert photo.mimetype == "image/jpeg" and photo.data[:2] == b"\xff\xd8"
    assert "private" in photo.headers["Cache-Control"]


def test_the_door_shows_the_grade_but_neither_the_note_nor_the_photo(client, graded):
    household, poor_id = graded
    page = client.get(f"/q/{make_token(household)}").text
    assert "差 (D)" in page and NOTE not in page
    assert "督导员的备注只有本户登录后才能看到" in page
    assert "data-feedback-photo" not in page and "/photo" not in page
    # Nor does a passer-by reach the photo by its address.
    assert client.get(f"/my/feedback/{poor_id}/photo").status_code == 302


def test_the_door_shows_the_note_to_the_household_itself_only(client, graded, make_user):
    household, _poor_id = graded
    log_in(client, "zhou-home")
    assert NOTE not in client.get(f"/q/{make_token(household)}").text
    make_user("inspector", username="wang-inspect")
    log_in(client, "wang-inspect")
    assert NOTE not in client.get(f"/q/{make_token(household)}").text
    log_in(client, "ma-home")
    assert NOTE in client.get(f"/q/{make_token(household)}").text


def test_another_household_never_gets_the_photo(client, graded):
    _household, poor_id = graded
    log_in(client, "zhou-home")
    assert client.get(f"/my/feedback/{poor_id}/photo").status_code == 404
    page = client.get("/my").text
    assert "data-feedback" not in page and NOTE not in page


def test_a_voided_grade_is_no_longer_shown(client, graded, make_user):
    household, poor_id = graded
    from app.inspections.models import Inspection

    admin = make_user("admin", username="wang-admin")
    void_inspection(db.session.get_one(Inspection, poor_id), actor=admin, reason="看错了")
    db.session.commit()
    log_in(client, "ma-home")
    assert NOTE not in client.get("/my").text
    assert client.get(f"/my/feedback/{poor_id}/photo").status_code == 404
    assert NOTE not in client.get(f"/q/{make_token(household)}").text


def test_feedback_older_than_30_days_is_not_news(client, village, household, make_user):
    make_user(HOUSEHOLD, household=household, username="ma-home")
    inspector = make_user("inspector", username="li-inspect")
    record_inspection(household, inspector, "D", note=NOTE, at=utcnow() - timedelta(days=31))
    db.session.commit()
    log_in(client, "ma-home")
    assert NOTE not in client.get("/my").text
