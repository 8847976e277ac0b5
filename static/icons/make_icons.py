"""Draw the app's icons (a white leaf on green): `python static/icons/make_icons.py`."""

from pathlib import Path

from PIL import Image, ImageDraw

GREEN = (27, 127, 59)
HERE = Path(__file__).parent


def icon(size: int) -> Image.Image:
    """Return a square icon; the leaf stays inside the maskable safe zone (80%)."""
    image = Image.new("RGB", (size, size), GREEN)
    draw = ImageDraw.Draw(image)
    s = size / 100
    draw.ellipse((30 * s, 22 * s, 70 * s, 78 * s), fill="white")
    draw.line((50 * s, 30 * s, 50 * s, 84 * s), fill=GREEN, width=max(2, round(4 * s)))
    return image


if __name__ == "__main__":
    for size in (192, 512):
        icon(size).save(HERE / f"icon-{size}.png", optimize=True)
    # The tab's icon, linked from every page beside favicon.svg (the same leaf, drawn by hand).
    icon(256).save(HERE / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])
