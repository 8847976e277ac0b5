"""The README's TLS: the nginx site it gives passes `nginx -t`; `make serve` answers over
https with HSTS and a Secure cookie."""

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx" / "greenpoints.conf"


def test_the_nginx_site_of_the_readme_is_valid(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is not installed: `make test` installs it (nginx-light)"
    subprocess.run(
        ["sh", str(ROOT / "deploy" / "local-cert.sh"), str(tmp_path / "tls")],
        check=True,
        capture_output=True,
    )
    # The certbot paths point at a certificate made for the test.
    site = SITE.read_text()
    site = site.replace(
        "/etc/letsencrypt/live/greenpoints.example/fullchain.pem", str(tmp_path / "tls/server.crt")
    ).replace(
        "/etc/letsencrypt/live/greenpoints.example/privkey.pem", str(tmp_path / "tls/server.key")
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/site.conf;
}}
"""
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_make_serve_sends_hsts_and_a_secure_cookie_over_https(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """`make serve` runs deploy/serve.sh: gunicorn over https with the local certificate,
    answering as production does (issue 33: the dev server sent neither)."""
    database = tmp_path / "greenpoints.db"
    shutil.copy(sqlite_template, database)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "serve-test",
        "GUNICORN": str(ROOT / ".venv" / "bin" / "gunicorn"),
        "TLS_DIR": str(tmp_path / "tls"),
        "WORKERS": "1",
    }
    env.pop("GREENPOINTS_TRUSTED_PROXIES", None)
    server = subprocess.Popen(
        ["sh", str(ROOT / "deploy" / "serve.sh"), "127.0.0.1", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        response = None
        for _ in range(300):  # the certificate, gunicorn and the app take a few seconds
            if server.poll() is not None:
                break
            try:
                trusted = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.crt"))
                response = urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/login", context=trusted, timeout=10
                )
                break
            except (OSError, ssl.SSLError):
                time.sleep(0.2)
        assert response is not None, "gunicorn did not answer over https"
        assert response.status == 200
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        [cookie] = response.headers.get_all("Set-Cookie")
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "secure" in flags and "httponly" in flags
        response.close()
        # Plain http on the same port is no way in.
        with pytest.raises((OSError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10).read()
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_make_serve_refuses_to_trust_a_proxy(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "serve.sh"), "127.0.0.1", str(free_port())],
        cwd=ROOT,
        env={**os.environ, "GREENPOINTS_TRUSTED_PROXIES": "1", "TLS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "unset GREENPOINTS_TRUSTED_PROXIES" in result.stderr
