"""Uploaded photos: checked by content, re-encoded, stripped of metadata."""

import io
import math
import uuid
import warnings
from pathlib import Path

from flask import Response, current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from app.errors import ValidationFailed

MAX_SIDE = 1600
# What a photo costs is its pixels, not its bytes: a 116 KB PNG of 6300 x 6300 px took
# 2 s and 600 MB to decode. A phone's photo is 12 Mpx. A JPEG is decoded at a
# reduced scale (draft: 1/2 to 1/8, just above MAX_SIDE), so a big one stays cheap; a
# PNG can only be decoded whole, so it gets a lower limit. Both are read from the
# header, before anything is decoded.
MAX_PIXELS = {"JPEG": 40_000_000, "PNG": 16_000_000}
ACCEPTED = set(MAX_PIXELS)
# The pixel count alone is not the cost: a 31 KB PNG of 1 x 16,000,000 grey pixels took
# 460 MB to decode (Pillow keeps a pointer and a padded line per row), and 16-bit RGBA
# takes eight bytes a pixel. So each side, the ratio of the sides and the bytes the
# decoder will hold (channels x bytes per channel, from the header) are capped too.
MAX_SIDE_PIXELS = 8_000
MAX_ASPECT = 20
MAX_DECODED_BYTES = 64_000_000
# Pillow's own guard for any other decoding in the process: warns above this, refuses
# above twice this.
Image.MAX_IMAGE_PIXELS = max(MAX_PIXELS.values())
# A file cut short is refused, never completed with grey (Pillow's default; kept so).
ImageFile.LOAD_TRUNCATED_IMAGES = False
# The channels of each PNG colour type (IHDR): grey, RGB, palette, grey+alpha, RGBA.
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class PhotoRefused(ValidationFailed):
    """An upload that is not a photo we keep; page_text says why on a page."""

    def __init__(self, detail: str, field: str, problem: str, page_text):
        super().__init__(detail, errors={field: [problem]})
        self.page_text = page_text


def _unreadable(field: str) -> PhotoRefused:
    return PhotoRefused(
        "The file is not a readable photo.",
        field,
        "Not a readable JPEG or PNG image.",
        _l("The file is not a readable photo (JPEG or PNG)."),
    )


def _too_many_pixels(field: str, kind: str, size: tuple[int, int] | None) -> PhotoRefused:
    limit = MAX_PIXELS.get(kind, max(MAX_PIXELS.values())) // 1_000_000
    shown = f" is {size[0]} x {size[1]} pixels and" if size else ""
    return PhotoRefused(
        f"The photo{shown} has more than {limit} million pixels, the most accepted for a "
        f"{kind or 'photo'}. Take it at the camera's normal size, or send a smaller picture.",
        field,
        "Too many pixels.",
        _l(
            "The photo has more than %(limit)d million pixels. Take it at the camera's "
            "normal size, or send a smaller picture.",
            limit=limit,
        ),
    )


def _out_of_shape(field: str, size: tuple[int, int]) -> PhotoRefused:
    return PhotoRefused(
        f"The photo is {size[0]} x {size[1]} pixels: a side may have at most "
        f"{MAX_SIDE_PIXELS} pixels and the longer side at most {MAX_ASPECT} times the "
        "shorter. Take it at the camera's normal size, or send a smaller picture.",
        field,
        "Too wide or too tall.",
        _l(
            "The photo is too wide or too tall: at most %(side)d pixels a side, and the "
            "longer side at most %(ratio)d times the shorter.",
            side=MAX_SIDE_PIXELS,
            ratio=MAX_ASPECT,
        ),
    )


def _too_many_bytes(field: str, size: tuple[int, int], decoded: int) -> PhotoRefused:
    limit = MAX_DECODED_BYTES // 1_000_000
    return PhotoRefused(
        f"The photo is {size[0]} x {size[1]} pixels and would take {decoded // 1_000_000} MB "
        f"to read, more than the {limit} MB accepted (too many pixels, colour channels or "
        "bits per channel). Send it as an ordinary 8-bit JPEG or PNG.",
        field,
        "Too many pixels.",
        _l(
            "The photo would take more than %(limit)d MB to read. Send it as an ordinary "
            "JPEG from the camera.",
            limit=limit,
        ),
    )


def decoded_bytes(image: Image.Image, data: bytes) -> int:
    """What decoding the image will hold, from its header: pixels x channels x bytes.

    A PNG's IHDR says its bit depth and colour type; a JPEG is 8 bits a channel. Pillow
    keeps 1, 2 or 4 bytes a pixel by mode, whichever is more.
    """
    channels, depth = len(image.getbands()), 8
    if image.format == "PNG" and len(data) >= 26:
        depth, colour = data[24], data[25]
        channels = PNG_CHANNELS.get(colour, 4)
    mode = image.mode
    kept = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return image.width * image.height * max(math.ceil(channels * depth / 8), kept)


def check_shape(image: Image.Image, field: str) -> None:
    """Refuse a picture too big to decode, from its header alone (nothing decoded yet)."""
    kind = image.format or ""
    width, height = image.size
    if width * height > MAX_PIXELS[kind]:
        raise _too_many_pixels(field, kind, image.size)
    if (
        max(width, height) > MAX_SIDE_PIXELS
        or min(width, height) < 1
        or max(width, height) > MAX_ASPECT * min(width, height)
    ):
        raise _out_of_shape(field, image.size)


def _decoded(image: Image.Image, data: bytes, field: str) -> Image.Image:
    """Decode a checked picture at the size kept: upright, at most MAX_SIDE, in RGB."""
    header_size = image.size
    if image.format == "JPEG" and max(image.size) > MAX_SIDE:
        # Decode at the smallest scale (1/2 to 1/8) still as large as the photo kept.
        ratio = MAX_SIDE / max(image.size)
        image.draft("RGB", (math.ceil(image.width * ratio), math.ceil(image.height * ratio)))
    decoded = decoded_bytes(image, data)
    if decoded > MAX_DECODED_BYTES:
        raise _too_many_bytes(field, header_size, decoded)
    image.load()  # a file cut short raises OSError here (LOAD_TRUNCATED_IMAGES is off)
    ImageOps.exif_transpose(image, in_place=True)
    clean = image if image.mode == "RGB" else image.convert("RGB")
    clean.thumbnail((MAX_SIDE, MAX_SIDE))
    return clean


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
                kind = image.format or ""
                if kind not in ACCEPTED:
                    raise ValidationFailed(
                        "Only JPEG and PNG photos are accepted.",
                        errors={field: ["Not a JPEG or PNG image."]},
                    )
                check_shape(image, field)
                clean = _decoded(image, data, field)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(field, "", None) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _unreadable(field) from None
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
