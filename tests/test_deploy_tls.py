"""The README's production TLS: the nginx site it gives passes `nginx -t`."""

import shutil
import subprocess
from pathlib import Path

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
