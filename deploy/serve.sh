#!/bin/sh
# Serve Green Points to the village's phones from its one machine (`make serve`): gunicorn
# over https with the local certificate of deploy/local-cert.sh, and HSTS and a Secure
# session cookie as in production. Usage: deploy/serve.sh [HOST] [PORT] (0.0.0.0 5000).
# GUNICORN (.venv/bin/gunicorn), TLS_DIR (instance/tls) and WORKERS (2) may be set.
#
# Sync workers: a client that sends its request slowly (or declares a body it never
# sends) holds one until --timeout, 30 s, when gunicorn replaces it. That is the most
# one phone can hold on the village network; facing the internet, put nginx in front
# (README, Production), which buffers whole requests before they reach a worker.
set -eu
host=${1:-0.0.0.0}
port=${2:-5000}
tls=${TLS_DIR:-instance/tls}
if [ "${GREENPOINTS_TRUSTED_PROXIES:-0}" != 0 ]; then
  echo "make serve faces the phones itself, with no proxy: unset GREENPOINTS_TRUSTED_PROXIES" >&2
  exit 1
fi
sh "$(dirname "$0")/local-cert.sh" "$tls"
GREENPOINTS_SESSION_COOKIE_SECURE=true
export GREENPOINTS_SESSION_COOKIE_SECURE
exec "${GUNICORN:-.venv/bin/gunicorn}" -c "$(dirname "$0")/gunicorn.conf.py" --workers "${WORKERS:-2}" --bind "$host:$port" \
  --certfile "$tls/server.crt" --keyfile "$tls/server.key" --timeout 30 wsgi:app
