#!/bin/sh
# Make a local certificate authority and a server certificate for `make run HTTPS=1`,
# so phones on the village network get https (the camera and the inspector app need it).
# Usage: deploy/local-cert.sh DIR [NAME...]; NAMEs are extra IP addresses or host names.
# Kept once made: a phone that trusts the authority keeps working across restarts.
set -eu
dir=$1; shift
mkdir -p "$dir"
if [ ! -f "$dir/ca.key" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Green Points local CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
fi
names="DNS:localhost,IP:127.0.0.1"
for ip in $(hostname -I 2>/dev/null || true) "$@"; do
  case $ip in
    *:*) ;;                                  # IPv6 left out: phones use the IPv4 address
    *[!0-9.]*) names="$names,DNS:$ip" ;;
    *) names="$names,IP:$ip" ;;
  esac
done
# A new server certificate when the machine's addresses change.
if [ ! -f "$dir/server.crt" ] || [ "$(cat "$dir/names" 2>/dev/null)" != "$names" ]; then
  openssl req -newkey rsa:2048 -nodes -subj "/CN=Green Points" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$names" \
    > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 825 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
  echo "$names" > "$dir/names"
fi
echo "Certificate for $names; phones trust $dir/ca.crt (README, HTTPS for phones)"
