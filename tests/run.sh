#!/bin/sh
# The whole test suite from a fresh machine: installs uv, the locked dependencies and (where
# missing) Debian's mosquitto, then runs the linters, the type checker and pytest.
# Usage: sh tests/run.sh [pytest args...]
set -eu
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install --quiet uv
fi
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "tests/run.sh: installing mosquitto from Debian's packages" >&2
        SUDO=""
        [ "$(id -u)" = 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto >/dev/null
    fi
fi

uv sync --locked --quiet
uv run --locked ruff check .
uv run --locked ruff format --check .
uv run --locked mypy
uv run --locked pytest "$@"
