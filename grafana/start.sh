#!/bin/sh
# Grafana's entrypoint in the stack: set the admin password, then hand over to the image's own /run.sh.
# GRAFANA_ADMIN_PASSWORD if set; else a random one, made once and kept in the data volume (never admin/admin).
set -eu
password_file="${GF_PATHS_DATA:-/var/lib/grafana}/admin-password"
if [ -n "${GRAFANA_ADMIN_PASSWORD:-}" ]; then
  GF_SECURITY_ADMIN_PASSWORD="$GRAFANA_ADMIN_PASSWORD"
else
  if [ ! -s "$password_file" ]; then
    umask 077
    # 24 characters from the kernel's random source; no network, no extra tools (busybox or coreutils).
    tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 >"$password_file.tmp"
    mv "$password_file.tmp" "$password_file"
    echo "gil-lab: generated a Grafana admin password; read it with:" \
         "docker compose exec grafana cat $password_file"
  fi
  GF_SECURITY_ADMIN_PASSWORD="$(cat "$password_file")"
fi
unset GRAFANA_ADMIN_PASSWORD
export GF_SECURITY_ADMIN_PASSWORD
exec /run.sh "$@"
