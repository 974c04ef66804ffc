# Shared set-up for scripts/test and scripts/demo: a local virtual environment
# with the project installed from the lock file, and the system packages the
# virtual store and the broker need. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STORE_GATEWAY_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

need_apt=()
ensure_cmd() {  # ensure_cmd COMMAND DEBIAN_PACKAGE
    command -v "$1" >/dev/null 2>&1 || need_apt+=("$2")
}

install_system_packages() {
    if [ ${#need_apt[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${STORE_GATEWAY_NO_APT:-}" ]; then
        echo "installing system packages: ${need_apt[*]}" >&2
        if [ ! -f /tmp/.storegw-apt-updated ]; then
            apt-get update -qq && touch /tmp/.storegw-apt-updated
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        echo "missing system packages: ${need_apt[*]}" >&2
        echo "install them (e.g. sudo apt-get install ${need_apt[*]}) and run again" >&2
        exit 1
    fi
}

ensure_venv() {
    local stamp="$VENV/.storegw-installed"
    if ! "$PY" -c "import venv, ensurepip" >/dev/null 2>&1; then
        need_apt+=(python3-venv)
        install_system_packages
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    # Reinstall only when the lock file or the project metadata changed.
    local want
    want="$(cat "$ROOT/requirements-dev.lock" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        # pip itself is in the lock (sqlite-utils needs it): upgrade it on its own
        # first, since pip cannot replace itself in the middle of a larger install.
        local pip_pin
        pip_pin="$(grep -E '^pip==' "$ROOT/requirements-dev.lock" || true)"
        if [ -n "$pip_pin" ]; then
            "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$pip_pin"
        fi
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements-dev.lock"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$ROOT"
        echo "$want" > "$stamp"
    fi
}

ensure_page() {
    # The technicians' page, built again when its sources, its libraries or the API's
    # description changed (scripts/build-page; it needs Node.js and npm).
    local stamp="$ROOT/gateway/web/dist/.storegw-built" want
    want="$(cd "$ROOT" && cat package-lock.json gateway/web/openapi*.py \
        $(find gateway/web/app -type f -not -name openapi.json -not -name openapi.d.ts | sort) \
        | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        PYTHON="$VENV/bin/python" "$ROOT/scripts/build-page"
        echo "$want" > "$stamp"
    fi
}
