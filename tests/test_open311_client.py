"""A real third-party Open311 client (georeport, from PyPI) reads the village's /open311/v2/.

georeport speaks HTTP through `requests`, so the app is served on 127.0.0.1 in a thread.
georeport 0.3.1 reads services and requests but has no way to post one: the POST is
sent with plain `requests` to the same server, and georeport reads it back.
"""

import io
import threading
from collections.abc import Iterator

import pytest
import requests
from georeport import GeoReport
from testsupport import png_bytes
from werkzeug.serving import make_server

from app.cases.models import Case
from app.db import db

pytestmark = pytest.mark.usefixtures("photo_folder")


@pytest.fixture
def open311_root(app) -> Iterator[str]:
    """The village's Open311 root, served live on a free port (as tests/browser serves pages)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/open311/v2/"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def api_key(runner, village):
    result = runner.invoke(args=["cases", "api-key", "--village", village.code])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


@pytest.fixture
def two_public_cases(client, village, resident_headers, admin_headers) -> tuple[int, int]:
    """One case reported in the app, and one whose photo an admin made public."""

    def report(category: str) -> int:
        response = client.post(
            "/api/v1/cases",
            json={"category": category, "description": "马秀英家后面有人倒垃圾"},
            headers=resident_headers,
        )
        assert response.status_code == 201, response.json
        return response.json["id"]

    plain, pictured = report("dumping"), report("overflow")
    uploaded = client.post(
        f"/api/v1/cases/{pictured}/photos",
        data={"file": (io.BytesIO(png_bytes()), "p.png"), "stage": "before"},
        headers=resident_headers,
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 201), uploaded.json
    photo = uploaded.json["photos"][0]["id"]
    published = client.patch(
        f"/api/v1/cases/{pictured}/photos/{photo}", json={"public": True}, headers=admin_headers
    )
    assert published.status_code == 200, published.json
    return plain, pictured


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_lists_the_village_categories_as_services(
    open311_root, client, village, output_format
):
    services = GeoReport(open311_root, jurisdiction="MZ", output_format=output_format)
    listed = services.get_service_list()
    assert [s["service_code"] for s in listed] == [
        "overflow",
        "mixed",
        "dumping",
        "broken_bin",
        "other",
    ]
    ours = client.get("/open311/v2/services.json").json
    assert [s["service_name"] for s in listed] == [s["service_name"] for s in ours]
    first = listed[0]
    assert first["type"] == "realtime"
    assert first["metadata"] in (False, "false")
    assert "小时内处理" in first["description"]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_reads_the_public_requests_and_nothing_personal(
    open311_root, village, household, two_public_cases, output_format
):
    plain, pictured = two_public_cases
    georeport = GeoReport(open311_root, jurisdiction="MZ", output_format=output_format)
    listed = georeport.get_service_requests()
    by_id = {r["service_request_id"]: r for r in listed}
    assert list(by_id) == [str(pictured), str(plain)]  # newest first
    shown = by_id[str(plain)]
    assert shown["service_code"] == "dumping"
    assert shown["status"] == "open"
    assert shown["description"] == shown["service_name"] == "乱倒垃圾"
    assert shown["requested_datetime"].endswith("Z")
    assert shown["expected_datetime"] > shown["requested_datetime"]
    assert shown["media_url"] is None
    media_url = by_id[str(pictured)]["media_url"]
    assert media_url.startswith(open311_root) and media_url.endswith(".jpg")
    picture = requests.get(media_url, timeout=10)
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/jpeg"
    text = repr(listed)
    assert household.name not in text and "马秀英" not in text
    # One request by its id, and the filters georeport sends.
    assert georeport.get_service_request(str(pictured))["service_code"] == "overflow"
    overflowing = georeport.get_service_requests(service_code="overflow", status="open")
    # xmltodict gives a lone <request> as a dict, not a list of one (georeport's shape).
    one = overflowing if isinstance(overflowing, dict) else overflowing[0]
    assert one["service_request_id"] == str(pictured)
    both = georeport.get_service_requests(service_request_id=f"{plain},{pictured}")
    assert len(both) == 2


def test_a_report_posted_with_an_api_key_is_made_once_and_georeport_reads_it(
    open311_root, village, grid, api_key
):
    form = {
        "api_key": api_key,
        "jurisdiction_id": "MZ",
        "service_code": "overflow",
        "lat": "34.75",
        "long": "113.62",
        "description": "村口垃圾桶满了",
        "phone": "13800001111",
    }
    posted = requests.post(f"{open311_root}requests.json", data=form, timeout=10)
    assert posted.status_code == 200, posted.text
    request_id = posted.json()[0]["service_request_id"]
    db.session.remove()
    assert db.session.query(Case).filter_by(source="open311").count() == 1
    georeport = GeoReport(open311_root, jurisdiction="MZ", api_key=api_key)
    shown = georeport.get_service_request(request_id)
    assert shown["description"] == "村口垃圾桶满了"
    assert (shown["lat"], shown["long"]) == (34.75, 113.62)
    assert "13800001111" not in repr(georeport.get_service_requests())
    refused = requests.post(
        f"{open311_root}requests.json", data={**form, "api_key": "wrong"}, timeout=10
    )
    assert refused.status_code == 403
    db.session.remove()
    assert db.session.query(Case).count() == 1
