# fleetsim image: the locked project on a slim Python base. Linted by hadolint in the test suite
# (tests/test_packaging.py); no Docker engine runs in CI, so it is not built there.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/fleetsim \
    PATH="/opt/fleetsim/bin:${PATH}"

RUN pip install --no-cache-dir uv==0.13.9

# Mosquitto, for the benchmarks that start their own broker (`fleetsim bench
# mqtt|mqtt-bridge|locust`) and as a broker for the container itself (`mosquitto -d`).
# Debian's package, whatever bookworm ships.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends mosquitto \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# The bench extra: the peers `fleetsim bench` compares with (moto, gmqtt, aiomqtt).
RUN uv sync --locked --no-dev --extra bench --no-install-project
COPY simulator ./simulator
COPY scenarios ./scenarios
RUN uv sync --locked --no-dev --extra bench \
    && useradd --create-home --uid 10001 fleetsim
USER 10001
WORKDIR /home/fleetsim
ENTRYPOINT ["fleetsim"]
CMD ["--help"]
