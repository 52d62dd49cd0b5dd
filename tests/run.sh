#!/bin/sh
# The whole test suite from a fresh machine: installs uv, the locked dependencies and (where
# missing) Debian's mosquitto, then runs the linters, the type checker and pytest (in parallel:
# pyproject.toml's addopts; the edit-test loop is `uv run pytest -m "not slow"`).
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

# The dev group (pytest, mypy, ruff, the peers the tests talk to) is for the tests only: the
# README's main command installs what fleetsim needs and nothing more.
uv sync --locked --all-groups --quiet
uv run --locked --all-groups ruff check .
uv run --locked --all-groups ruff format --check .
uv run --locked --all-groups mypy
uv run --locked --all-groups pytest "$@"
