"""Inspection photos through the JSON API: re-encoded, scaled, refused, replayed."""

import io

import pytest
from PIL import Image
from testsupport import assert_problem, png_bytes

from app.auth.models import INSPECTOR

pytestmark = pytest.mark.usefixtures("photo_folder")


def jpeg_with_exif(size=(64, 48), color=(30, 160, 60)) -> bytes:
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "SecretSoftware 1.0"  # Software
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def upload(
    client,
    inspection_id,
    data,
    headers,
    *,
    filename="photo.jpg",
    content_type="image/jpeg",
    key=None,
):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/inspections/{inspection_id}/photo",
        data={"photo": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
        headers={**headers, **extra},
    )


# Photos -------------------------------------------------------------------------------


def test_a_jpeg_is_stored_re_encoded_without_its_exif(
    client, inspect, household, inspector_headers, photo_folder
):
    original = jpeg_with_exif()
    assert Image.open(io.BytesIO(original)).getexif()[0x010F] == "SecretCam"
    created = inspect(household, "A").json

    response = upload(client, created["id"], original, inspector_headers)

    assert response.status_code == 200, response.json
    assert response.json["has_photo"] is True
    shown = client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers)
    assert shown.status_code == 200
    assert shown.mimetype == "image/jpeg"
    data = shown.get_data()
    assert data != original
    assert b"SecretCam" not in data and b"SecretSoftware" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.size == (64, 48)
        exif = image.getexif()
        assert 0x010F not in exif and 0x0131 not in exif
    stored = list(photo_folder.iterdir())
    assert len(stored) == 1 and b"SecretCam" not in stored[0].read_bytes()


def test_a_png_is_accepted_and_served_as_jpeg(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json

    response = upload(
        client,
        created["id"],
        png_bytes(),
        inspector_headers,
        filename="photo.png",
        content_type="image/png",
    )

    assert response.status_code == 200, response.json
    shown = client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers)
    assert shown.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(shown.get_data())) as image:
        assert image.format == "JPEG"
        assert image.size == (40, 30)


def test_a_large_photo_is_scaled_down(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json
    buffer = io.BytesIO()
    Image.new("RGB", (3200, 1200), (0, 0, 0)).save(buffer, "JPEG")

    assert upload(client, created["id"], buffer.getvalue(), inspector_headers).status_code == 200
    shown = client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers)
    with Image.open(io.BytesIO(shown.get_data())) as image:
        assert max(image.size) <= 1600


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"this is not a photo at all\n" * 10, "photo.jpg", "image/jpeg"),
        (b"", "photo.jpg", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "photo.gif", "image/gif"),
        (jpeg_with_exif()[:200], "cut.jpg", "image/jpeg"),
    ],
)
def test_a_file_that_is_not_a_jpeg_or_png_is_422(
    client, inspect, household, inspector_headers, photo_folder, data, filename, content_type
):
    created = inspect(household, "A").json

    response = upload(
        client, created["id"], data, inspector_headers, filename=filename, content_type=content_type
    )

    assert "photo" in assert_problem(response, 422, "validation_error")["errors"]
    assert not photo_folder.exists() or not any(photo_folder.iterdir())
    assert_problem(
        client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers), 404
    )


def test_a_gif_is_refused_even_when_real(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "GIF")

    response = upload(
        client,
        created["id"],
        buffer.getvalue(),
        inspector_headers,
        filename="photo.gif",
        content_type="image/gif",
    )

    assert_problem(response, 422, "validation_error")


def test_a_photo_too_large_is_refused(app, client, inspect, household, inspector_headers):
    app.config["MAX_PHOTO_BYTES"] = 1000
    created = inspect(household, "A").json
    buffer = io.BytesIO()
    Image.effect_noise((200, 200), 80).convert("RGB").save(buffer, "JPEG", quality=95)
    assert len(buffer.getvalue()) > 1000

    response = upload(client, created["id"], buffer.getvalue(), inspector_headers)

    assert response.status_code in (413, 422)
    assert response.json["code"] in ("payload_too_large", "validation_error")


def test_the_upload_needs_the_photo_field(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json

    response = client.post(
        f"/api/v1/inspections/{created['id']}/photo",
        data={"picture": (io.BytesIO(png_bytes()), "p.png", "image/png")},
        content_type="multipart/form-data",
        headers=inspector_headers,
    )

    assert "photo" in assert_problem(response, 422, "validation_error")["errors"]


def test_another_inspector_may_not_add_a_photo_to_my_inspection(
    client, inspect, household, make_user, token_for, admin_headers
):
    created = inspect(household, "A").json
    other = token_for(make_user(INSPECTOR))

    assert_problem(upload(client, created["id"], jpeg_with_exif(), other), 403)
    assert_problem(
        client.get(f"/api/v1/inspections/{created['id']}/photo", headers=admin_headers), 404
    )
    # The admin may.
    assert upload(client, created["id"], jpeg_with_exif(), admin_headers).status_code == 200


def multipart(
    boundary: str, data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg"
) -> tuple[bytes, str]:
    """One multipart/form-data body with the photo field, under a chosen boundary."""
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
        f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    return (
        body + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def test_a_photo_upload_replays_under_its_key(
    client, inspect, household, inspector_headers, photo_folder
):
    created = inspect(household, "A").json
    body, content_type = multipart("fixed-boundary", jpeg_with_exif())

    def send(data, kind):
        return client.post(
            f"/api/v1/inspections/{created['id']}/photo",
            data=data,
            headers={**inspector_headers, "Idempotency-Key": "photo-1", "Content-Type": kind},
        )

    first, again = send(body, content_type), send(body, content_type)

    assert first.status_code == again.status_code == 200, first.json
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(list(photo_folder.iterdir())) == 1
    other_body, other_type = multipart("fixed-boundary", png_bytes(), "p.png", "image/png")
    assert_problem(send(other_body, other_type), 422, "idempotency_conflict")


def test_a_resent_photo_form_replays_whatever_its_multipart_boundary(
    client, inspect, household, inspector_headers, photo_folder
):
    """A phone that rebuilds the same form for a retry picks a new boundary; the request is
    the same (same field, file name and bytes), so it must be replayed, not refused."""
    created = inspect(household, "A").json
    photo = jpeg_with_exif()

    def send(boundary):
        data, kind = multipart(boundary, photo)
        return client.post(
            f"/api/v1/inspections/{created['id']}/photo",
            data=data,
            headers={**inspector_headers, "Idempotency-Key": "photo-2", "Content-Type": kind},
        )

    first, again = send("boundary-one"), send("boundary-two")

    assert first.status_code == 200
    assert again.status_code == 200, again.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(list(photo_folder.iterdir())) == 1


def test_a_household_user_may_not_see_photos(
    client, inspect, household, inspector_headers, resident, token_for
):
    created = inspect(household, "A").json
    upload(client, created["id"], jpeg_with_exif(), inspector_headers)

    assert_problem(
        client.get(f"/api/v1/inspections/{created['id']}/photo", headers=token_for(resident)), 403
    )
