"""Uploaded photos: checked by content, re-encoded, stripped of metadata."""

import io
import uuid
import warnings
from pathlib import Path

from flask import Response, current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import ValidationFailed

MAX_SIDE = 1600
MAX_PIXELS = 40_000_000  # refuse decompression bombs long before memory runs out
ACCEPTED = {"JPEG", "PNG"}


def photo_folder() -> Path:
    """Return the folder photos are kept in (PHOTO_FOLDER, default instance/photos)."""
    folder = Path(
        current_app.config.get("PHOTO_FOLDER") or Path(current_app.instance_path) / "photos"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store_photo(data: bytes, *, field: str = "photo") -> str:
    """Check an upload is a JPEG or PNG photo, re-encode it as a clean JPEG, keep it.

    Returns the stored file's name. Whatever the upload carried besides the
    pixels (EXIF with GPS position, comments, a payload after the image) is gone.
    """
    limit = current_app.config["MAX_PHOTO_BYTES"]
    if not data:
        raise ValidationFailed("The photo is empty.", errors={field: ["Empty file."]})
    if len(data) > limit:
        raise ValidationFailed(
            f"The photo is larger than {limit // 1_000_000} MB.", errors={field: ["Too large."]}
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ACCEPTED:
                    raise ValidationFailed(
                        "Only JPEG and PNG photos are accepted.",
                        errors={field: ["Not a JPEG or PNG image."]},
                    )
                if image.width * image.height > MAX_PIXELS:
                    raise ValidationFailed(
                        "The photo has too many pixels.", errors={field: ["Too many pixels."]}
                    )
                image.load()
                clean = ImageOps.exif_transpose(image).convert("RGB")
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ):
        raise ValidationFailed(
            "The file is not a readable photo.",
            errors={field: ["Not a readable JPEG or PNG image."]},
        ) from None
    clean.thumbnail((MAX_SIDE, MAX_SIDE))
    name = f"{uuid.uuid4().hex}.jpg"
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=82, optimize=True)
    (photo_folder() / name).write_bytes(out.getvalue())
    return name


def photo_path(name: str) -> Path:
    """Return where a stored photo lives."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError("not a stored photo name")
    return photo_folder() / name


def photo_response(name: str) -> Response:
    """Serve a stored photo to the village's own users (cached privately for a day)."""
    return Response(
        photo_path(name).read_bytes(),
        mimetype="image/jpeg",
        headers={"Cache-Control": "private, max-age=86400"},
    )
