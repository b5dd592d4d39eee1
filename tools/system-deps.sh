#!/usr/bin/env bash
# Installs the system tools the test suite drives for real, when missing: kubectl (with
# kustomize) for the manifests, promtool and prometheus for alert rules and dashboards,
# Chromium for the desk's browser tests, a Postgres built with OpenSSL and PgBouncer for the
# managed-database tests (pgserver's Postgres has no TLS). Debian packages only; nothing is
# downloaded by hand.
set -euo pipefail
need=()
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 \
  || need+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system tools: ${need[*]} (run as root, or install them: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing system tools: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian prometheus package may start a server of its own; the tests start theirs.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
# Likewise Debian's Postgres cluster and PgBouncer: the tests start their own.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now postgresql pgbouncer >/dev/null 2>&1 || true
fi
pkill -x prometheus >/dev/null 2>&1 || true
# Without systemd, Debian's package may have started its default cluster and PgBouncer.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters -h 2>/dev/null | while read -r version cluster _; do
    pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
  done
fi
pkill -x pgbouncer >/dev/null 2>&1 || true
