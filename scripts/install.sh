#!/usr/bin/env bash
# Install store-gateway as a service on a store box (Debian, systemd).
#
#   sudo ./scripts/install.sh                 # install or upgrade
#   sudo ./scripts/install.sh --uninstall     # remove the program; keep config and data
#   sudo ./scripts/install.sh --uninstall --purge   # also remove config and data
#
# Options: --root DIR (install into DIR as the file system root, for packaging
# and tests), --prefix DIR (program location, default /opt/store-gateway),
# --no-venv (lay out files only; the virtual environment is made elsewhere).
# Running it twice gives the same result; an existing /etc/store-gateway/gateway.toml
# is never overwritten.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT_DIR=""
PREFIX="/opt/store-gateway"
MODE="install"
PURGE=0
MAKE_VENV=1
PY="${PYTHON:-python3}"

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT_DIR="${2%/}"; shift 2 ;;
        --prefix) PREFIX="$2"; shift 2 ;;
        --uninstall) MODE="uninstall"; shift ;;
        --purge) PURGE=1; shift ;;
        --no-venv) MAKE_VENV=0; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$ROOT_DIR" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (or give --root DIR to install into a directory)" >&2
    exit 1
fi

R="$ROOT_DIR"
CONF="$R/etc/store-gateway"
UNITDIR="$R/lib/systemd/system"
SYSUSERS="$R/usr/lib/sysusers.d"
TMPFILES="$R/usr/lib/tmpfiles.d"
APP="$R$PREFIX"
systemd_live() { [ -z "$ROOT_DIR" ] && [ -d /run/systemd/system ]; }

if [ "$MODE" = "uninstall" ]; then
    if systemd_live; then
        systemctl disable --now store-gateway.service 2>/dev/null || true
    fi
    rm -rf "$APP"
    rm -f "$UNITDIR/store-gateway.service" "$SYSUSERS/store-gateway.conf" "$TMPFILES/store-gateway.conf"
    if [ "$PURGE" -eq 1 ]; then
        rm -rf "$CONF" "$R/var/lib/store-gateway"
        echo "removed store-gateway, its configuration and its data"
    else
        echo "removed store-gateway; kept $CONF and $R/var/lib/store-gateway (--purge removes them)"
    fi
    systemd_live && systemctl daemon-reload
    exit 0
fi

# The page is built from its sources with Node.js (scripts/build-page); a box without
# Node.js installs a checkout where it was built already.
if [ "$MODE" = "install" ] && [ ! -f "$SRC/gateway/web/dist/index.html" ]; then
    if command -v npm >/dev/null 2>&1; then
        "$SRC/scripts/build-page"
    else
        echo "install.sh: the page is not built and npm is missing: run scripts/build-page" \
            "on a machine with Node.js and npm (or install them), then install again" >&2
        exit 1
    fi
fi

# Stage everything next to the target, then swap it in: never half-installed.
STAGE="$(mktemp -d "${APP%/*}/.store-gateway.XXXXXX" 2>/dev/null || { mkdir -p "${APP%/*}"; mktemp -d "${APP%/*}/.store-gateway.XXXXXX"; })"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/src"
( cd "$SRC" && tar --exclude=.venv --exclude=var --exclude=.git --exclude='__pycache__' \
    --exclude=test-artifacts --exclude=bench-results -cf - gateway drivers config systemd \
    pyproject.toml requirements.lock README.md ) | tar -xf - -C "$STAGE/src"
if [ "$MAKE_VENV" -eq 1 ]; then
    "$PY" -m venv "$STAGE/venv"
    "$STAGE/venv/bin/python" -m pip install -q --disable-pip-version-check \
        "$(grep -E '^pip==' "$SRC/requirements.lock" || echo pip)"
    "$STAGE/venv/bin/python" -m pip install -q --disable-pip-version-check -r "$SRC/requirements.lock"
    "$STAGE/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$STAGE/src"
    # The service's file system is read-only: compile the bytecode now.
    "$STAGE/venv/bin/python" -m compileall -q "$STAGE/venv" >/dev/null
fi
# The environment is built here and moved into place, so its console-script
# shebangs would point at the staging directory: the command is a small wrapper
# that runs the module with the environment's interpreter (which moves fine).
mkdir -p "$STAGE/bin"
printf '#!/bin/sh\nexec %s/venv/bin/python -m gateway "$@"\n' "$PREFIX" > "$STAGE/bin/store-gateway"
chmod 0755 "$STAGE/bin/store-gateway"
cp "$SRC/README.md" "$STAGE/README.md"
rm -rf "$APP.old"
[ -e "$APP" ] && mv "$APP" "$APP.old"
mv "$STAGE" "$APP"
rm -rf "$APP.old"
trap - EXIT

install -d -m 0750 "$CONF"
if [ ! -e "$CONF/gateway.toml" ]; then
    install -m 0640 "$SRC/config/gateway.example.toml" "$CONF/gateway.toml"
    echo "installed an example configuration: edit $CONF/gateway.toml"
fi
install -d -m 0700 "$CONF/credentials"
install -d "$UNITDIR" "$SYSUSERS" "$TMPFILES"
install -m 0644 "$SRC/systemd/store-gateway.service" "$UNITDIR/store-gateway.service"
install -m 0644 "$SRC/systemd/sysusers.d/store-gateway.conf" "$SYSUSERS/store-gateway.conf"
install -m 0644 "$SRC/systemd/tmpfiles.d/store-gateway.conf" "$TMPFILES/store-gateway.conf"

if systemd_live; then
    systemd-sysusers store-gateway.conf
    systemd-tmpfiles --create store-gateway.conf
    systemctl daemon-reload
    # The page is served over HTTPS with a certificate the gateway makes for itself (in
    # its data directory, as the service's user): made now, so its fingerprint can be
    # checked in the browser at the first visit.
    if cert="$(runuser -u store-gateway -- "$APP/bin/store-gateway" web-cert --config "$CONF/gateway.toml" 2>&1)"; then
        echo "the page's certificate (check its fingerprint in the browser at the first visit):"
        echo "$cert" | sed 's/^/    /'
    else
        echo "the page's certificate is made at the first start (store-gateway web-cert --config $CONF/gateway.toml shows it): $cert"
    fi
    echo "installed; start with: systemctl enable --now store-gateway"
else
    # Into a directory for packaging: no key is made here (every box makes its own at
    # its first start, and logs its fingerprint).
    echo "installed into ${ROOT_DIR:-/}; the page's HTTPS certificate is made on the box at its first start (store-gateway web-cert shows it)"
fi
