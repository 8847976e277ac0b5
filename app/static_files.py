"""Static files for phones on a weak link: content-hashed names, kept for good, gzipped.

`url_for("static", filename="js/scanner.js")` gives `/static/js/scanner.<hash>.js`; that
name is served with `Cache-Control: immutable` (a new content gets a new name), the plain
name with `no-cache`. Text files go gzipped to a browser that accepts it.

The scripts are ES modules. A module imports another by its relative, plain name
(`import { all } from "../queue.js"`); as it is served, each such name is rewritten to
the absolute hashed URL of that module (`"/static/js/queue.<hash>.js"`), so that the
whole graph of modules is kept for good, the service worker can precache it under the
very URLs the browser asks for (`module_graph()`), and a module's hash changes when one
it imports does (its hash is taken over the rewritten text). Only static `import`/`export
... from` of relative `.js` names are rewritten: no dynamic `import()` in static/js.
"""

import gzip
import hashlib
import mimetypes
import re
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, current_app, request, send_file
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


# A static import or re-export of a relative module name: `import x from "./a.js"`,
# `import "./a.js"`, `export { y } from "../b.js"`.
IMPORT = re.compile(
    r"""(?P<head>\b(?:import\s*(?:[\w$*{},\s]+?\s*from\s*)?|export\s*[\w$*{},\s]+?\s*from\s*))"""
    r"""(?P<quote>["'])(?P<name>\.\.?/[^"'\s]+\.js)(?P=quote)"""
)


@lru_cache(maxsize=512)
def _imports(path: str, _mtime: int) -> tuple[str, ...]:
    """The modules a script imports (absolute paths), from its text."""
    text = Path(path).read_text(encoding="utf-8")
    parent = Path(path).parent
    return tuple(str((parent / m["name"]).resolve()) for m in IMPORT.finditer(text))


def _stamp(path: Path, seen: tuple[str, ...] = ()) -> tuple[tuple[str, int], ...]:
    """The modules a script stands on (itself first), each with its modification time."""
    if str(path) in seen:
        raise ValueError(f"A circle of imports through {path}")
    mtime = path.stat().st_mtime_ns
    stamp = [(str(path), mtime)]
    for name in _imports(str(path), mtime):
        stamp.extend(_stamp(Path(name), (*seen, str(path))))
    return tuple(stamp)


@lru_cache(maxsize=512)
def _linked(folder: str, url_path: str, stamp: tuple[tuple[str, int], ...]) -> bytes:
    """A script's text with its relative imports rewritten to absolute hashed URLs."""
    path = Path(stamp[0][0])
    root = Path(folder).resolve()

    def hashed(match: re.Match) -> str:
        target = (path.parent / match["name"]).resolve()
        name = target.relative_to(root).as_posix()
        url = f"{url_path}/{hashed_name(name, target)}"
        return f"{match['head']}{match['quote']}{url}{match['quote']}"

    return IMPORT.sub(hashed, path.read_text(encoding="utf-8")).encode()


def _script(path: Path) -> tuple[str, str, tuple[tuple[str, int], ...]]:
    app = current_app
    return app.static_folder or "", app.static_url_path or "", _stamp(path.resolve())


def _content(path: Path) -> bytes | None:
    """What a script is served as (its imports linked); None for any other file."""
    return _linked(*_script(path)) if path.suffix == ".js" else None


@lru_cache(maxsize=512)
def _linked_digest(folder: str, url_path: str, stamp: tuple[tuple[str, int], ...]) -> str:
    return hashlib.sha256(_linked(folder, url_path, stamp)).hexdigest()[:12]


def hashed_name(name: str, path: Path) -> str:
    """`js/queue.js` under its content hash: `js/queue.<hash>.js`."""
    stem, ext = name.rsplit(".", 1)
    return f"{stem}.{digest_of(path)}.{ext}"


def module_source(name: str) -> str:
    """A module under static/ as it is served (its imports linked), e.g. for the worker."""
    path = _file(current_app.static_folder or "", name)
    if path is None:
        raise FileNotFoundError(name)
    return (_content(path) or path.read_bytes()).decode()


def module_graph(names: tuple[str, ...]) -> tuple[str, ...]:
    """The static names given, each followed by the modules it imports (once each)."""
    root = Path(current_app.static_folder or "").resolve()
    found: list[str] = []
    for name in names:
        path = _file(str(root), name)
        stamp = _stamp(path.resolve()) if path is not None and path.suffix == ".js" else ()
        modules = [Path(p).relative_to(root).as_posix() for p, _ in stamp] or [name]
        found.extend(m for m in modules if m not in found)
    return tuple(found)


@lru_cache(maxsize=512)
def _compress(content: bytes) -> bytes:
    return gzip.compress(content, compresslevel=9, mtime=0)


def _file(folder: str, filename: str) -> Path | None:
    joined = safe_join(folder, filename)
    if joined is None:
        return None
    path = Path(joined)
    return path if path.is_file() else None


def digest_of(path: Path) -> str:
    """Return the content hash of a file as served (recomputed when it, or a module it
    imports, changes on disk)."""
    if path.suffix == ".js":
        return _linked_digest(*_script(path))
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
            values["filename"] = hashed_name(name, path)

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
        content = _content(path)
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        if path.suffix in COMPRESSIBLE and gzipped:
            body = _gzipped(str(path), mtime) if content is None else _compress(content)
            response = Response(body, mimetype=mimetype)
            response.headers["Content-Encoding"] = "gzip"
            response.set_etag(digest_of(path) + "-gz")
            response.make_conditional(request)
        elif content is not None:
            response = Response(content, mimetype=mimetype)
            response.set_etag(digest_of(path))
            response.make_conditional(request)
        else:
            response = send_file(path, etag=digest_of(path), max_age=None, conditional=True)
        if path.suffix in COMPRESSIBLE:
            response.vary.add("Accept-Encoding")
        response.headers["Cache-Control"] = FOREVER if forever else "no-cache"
        return response

    app.view_functions["static"] = serve_static
