"""Static files for phones on a weak link: content-hashed names, kept for good, gzipped.

`url_for("static", filename="js/scanner.js")` gives `/static/js/scanner.<hash>.js`; that
name is served with `Cache-Control: immutable` (a new content gets a new name), the plain
name with `no-cache`. Text files go gzipped to a browser that accepts it.
"""

import gzip
import hashlib
import mimetypes
import re
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, request, send_file
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

HASHED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<ext>\.[A-Za-z0-9]+)$")
COMPRESSIBLE = {".css", ".js", ".json", ".map", ".svg", ".txt", ".webmanifest"}
FOREVER = "public, max-age=31536000, immutable"

mimetypes.add_type("application/manifest+json", ".webmanifest")


@lru_cache(maxsize=2048)
def _digest(path: str, _mtime: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=512)
def _gzipped(path: str, _mtime: int) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0)


def _file(folder: str, filename: str) -> Path | None:
    joined = safe_join(folder, filename)
    if joined is None:
        return None
    path = Path(joined)
    return path if path.is_file() else None


def digest_of(path: Path) -> str:
    """Return the content hash of a file (recomputed when it changes on disk)."""
    return _digest(str(path), path.stat().st_mtime_ns)


def init_static(app: Flask) -> None:
    """Give static URLs their content hash, and serve them compressed and cached."""
    folder = app.static_folder or ""

    @app.url_defaults
    def hash_static_name(endpoint: str, values: dict) -> None:
        if endpoint != "static" or "filename" not in values:
            return
        name = values["filename"]
        path = _file(folder, name)
        if path is not None and "." in path.name:
            stem, ext = name.rsplit(".", 1)
            values["filename"] = f"{stem}.{digest_of(path)}.{ext}"

    def serve_static(filename: str) -> Response:
        """Send a static file: immutable under its hashed name, gzipped when accepted."""
        path = _file(folder, filename)
        forever = False
        if path is None and (match := HASHED.match(filename)):
            path = _file(folder, match["stem"] + match["ext"])
            # An old hash gets today's file, but not kept forever under that name.
            forever = path is not None and digest_of(path) == match["digest"]
        if path is None:
            raise NotFound()
        mtime = path.stat().st_mtime_ns
        if path.suffix in COMPRESSIBLE and "gzip" in request.headers.get("Accept-Encoding", ""):
            mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            response = Response(_gzipped(str(path), mtime), mimetype=mimetype)
            response.headers["Content-Encoding"] = "gzip"
            response.set_etag(digest_of(path) + "-gz")
            response.make_conditional(request)
        else:
            response = send_file(path, etag=digest_of(path), max_age=None, conditional=True)
        if path.suffix in COMPRESSIBLE:
            response.vary.add("Accept-Encoding")
        response.headers["Cache-Control"] = FOREVER if forever else "no-cache"
        return response

    app.view_functions["static"] = serve_static
