"""Open311 GeoReport v2: the public face of cases, JSON and XML, and nothing personal."""

import io
import json
import xml.etree.ElementTree as ET

import pytest
from testsupport import png_bytes

from app.cases.models import Case
from app.db import db

pytestmark = pytest.mark.usefixtures("photo_folder")
V2 = "/open311/v2"


@pytest.fixture
def api_key(runner, village):
    result = runner.invoke(args=["cases", "api-key", "--village", village.code])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def resident_report(client, resident_headers, **body):
    response = client.post(
        "/api/v1/cases",
        json={"category": "dumping", "description": "马秀英家后面有人倒垃圾", **body},
        headers=resident_headers,
    )
    assert response.status_code == 201
    return response.json


def test_services_list_the_village_categories_in_json_and_xml(client, village):
    services = client.get(f"{V2}/services.json").json
    assert [s["service_code"] for s in services] == [
        "overflow",
        "mixed",
        "dumping",
        "broken_bin",
        "other",
    ]
    assert services[0] | {"metadata": False, "type": "realtime"} == services[0]
    xml = ET.fromstring(client.get(f"{V2}/services.xml?jurisdiction_id=MZ").data)
    assert xml.tag == "services"
    assert xml.find("service/service_code").text == "overflow"
    assert xml.find("service/metadata").text == "false"


def test_a_client_posts_a_report_and_reads_it_back_without_anything_personal(
    client, village, grid, api_key
):
    posted = client.post(
        f"{V2}/requests.json",
        data={
            "api_key": api_key,
            "jurisdiction_id": "MZ",
            "service_code": "overflow",
            "lat": "34.75",
            "long": "113.62",
            "description": "村口垃圾桶满了",
            "email": "zhang@example.cn",
            "first_name": "张",
            "phone": "13800001111",
        },
    )
    assert posted.status_code == 200, posted.data
    request_id = posted.json[0]["service_request_id"]
    case = db.session.get(Case, int(request_id))
    assert case.source == "open311" and case.grid_id == grid.id
    assert "13800001111" in case.reporter_contact
    shown = client.get(f"{V2}/requests/{request_id}.json").json
    assert len(shown) == 1
    assert shown[0]["status"] == "open" and shown[0]["service_code"] == "overflow"
    assert shown[0]["description"] == "村口垃圾桶满了"
    assert shown[0]["lat"] == 34.75 and shown[0]["media_url"] is None
    text = json.dumps(client.get(f"{V2}/requests.json").json, ensure_ascii=False)
    for personal in ("zhang@example.cn", "13800001111", "张"):
        assert personal not in text
    xml = ET.fromstring(client.get(f"{V2}/requests.xml").data)
    assert xml.tag == "service_requests"
    assert xml.find("request/service_request_id").text == request_id


def test_a_residents_own_words_and_name_never_reach_the_public(
    client, village, resident_headers, household
):
    resident_report(client, resident_headers)
    listed = client.get(f"{V2}/requests.json").json
    text = json.dumps(listed, ensure_ascii=False)
    assert household.name not in text and "马秀英" not in text
    assert listed[0]["description"] == "乱倒垃圾"


def test_a_photo_is_public_only_when_an_admin_says_so(
    client, village, resident_headers, admin_headers
):
    case = resident_report(client, resident_headers)
    uploaded = client.post(
        f"/api/v1/cases/{case['id']}/photos",
        data={"file": (io.BytesIO(png_bytes()), "p.png"), "stage": "before"},
        headers=resident_headers,
        content_type="multipart/form-data",
    ).json
    photo = uploaded["photos"][0]
    assert client.get(f"{V2}/requests/{case['id']}.json").json[0]["media_url"] is None
    assert client.get(f"{V2}/media/{photo['id']}.jpg").status_code == 404
    refused = client.patch(
        f"/api/v1/cases/{case['id']}/photos/{photo['id']}",
        json={"public": True},
        headers=resident_headers,
    )
    assert refused.status_code == 403
    made_public = client.patch(
        f"/api/v1/cases/{case['id']}/photos/{photo['id']}",
        json={"public": True},
        headers=admin_headers,
    )
    assert made_public.status_code == 200
    media_url = client.get(f"{V2}/requests/{case['id']}.json").json[0]["media_url"]
    assert media_url.endswith(f"/open311/v2/media/{photo['id']}.jpg")
    assert client.get(f"{V2}/media/{photo['id']}.jpg").mimetype == "image/jpeg"


def test_filters_by_status_code_and_id(client, village, resident_headers, admin_headers):
    first = resident_report(client, resident_headers)
    second = resident_report(client, resident_headers, category="overflow")
    client.post(
        f"/api/v1/cases/{first['id']}/events",
        json={"action": "mark_invalid", "note": "不实"},
        headers=admin_headers,
    )
    closed = client.get(f"{V2}/requests.json?status=closed").json
    assert [r["service_request_id"] for r in closed] == [str(first["id"])]
    by_code = client.get(f"{V2}/requests.json?service_code=overflow").json
    assert [r["service_request_id"] for r in by_code] == [str(second["id"])]
    both = client.get(f"{V2}/requests.json?service_request_id={first['id']},{second['id']}").json
    assert [r["service_request_id"] for r in both] == [str(second["id"]), str(first["id"])]


@pytest.mark.parametrize(
    "form, status",
    [
        ({"api_key": "", "service_code": "overflow", "lat": "1", "long": "2"}, 403),
        ({"api_key": "wrong", "service_code": "overflow", "lat": "1", "long": "2"}, 403),
        ({"service_code": "fire", "lat": "1", "long": "2"}, 400),
        ({"service_code": "overflow"}, 400),
        ({"service_code": "overflow", "lat": "91", "long": "2"}, 400),
    ],
    ids=["no key", "wrong key", "unknown service", "no place", "latitude 91"],
)
def test_bad_posts_get_open311_errors_and_nothing_is_kept(
    client, village, grid, api_key, form, status
):
    form = {"api_key": api_key, **form} if "api_key" not in form else form
    response = client.post(f"{V2}/requests.json", data=form)
    assert response.status_code == status
    assert set(response.json[0]) == {"code", "description"}
    xml = client.post(f"{V2}/requests.xml", data=form)
    assert ET.fromstring(xml.data).find("error/code").text == str(status)
    assert db.session.query(Case).count() == 0


def test_a_server_of_several_villages_needs_the_jurisdiction(client, village, other_village):
    response = client.get(f"{V2}/requests.json")
    assert response.status_code == 400
    assert client.get(f"{V2}/requests.json?jurisdiction_id=NOPE").status_code == 404
    assert client.get(f"{V2}/requests.json?jurisdiction_id=LZ").json == []
