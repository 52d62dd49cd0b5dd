"""A heavy SearchIndex on a real ``fleetsim serve`` does not hold up another client (issue 12).

30,000 things with two 800-character attributes, and a query of ten wildcard terms: one pass over
the fleet takes ~0.2 s once the documents are built (~0.35 s while they are first built) on the
reference machine; 15,000 things were no longer enough once building documents got faster.
Before the scan went in slices that was how long every other request waited; now another boto3
client's DescribeThing stays under 100 ms while such searches run back to back.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from botocore.config import Config

from tests.api.conftest import Server

THINGS = 30_000
HITS = [f"t{i:06d}" for i in range(0, THINGS, 1000)]  # x ends in "b" for these
HEAVY = " OR ".join(
    f"attributes.{field}:a*a*a*{end}" for end in ("a*b", "c", "d", "e", "f") for field in ("x", "y")
)


def populate(url: str, count: int) -> None:
    """Create the fleet over one keep-alive connection (``--auth none``): quicker than boto3."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    try:
        for i in range(count):
            name = f"t{i:06d}"
            x = "a" * 799 + ("b" if name in HITS else "a")
            body = orjson.dumps({"attributePayload": {"attributes": {"x": x, "y": "a" * 800}}})
            connection.request(
                "POST", f"/things/{name}", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            assert response.status == 200, response.read()
            response.read()
    finally:
        connection.close()


@pytest.mark.slow
def test_heavy_search_leaves_other_clients_answered(start_server: Callable[..., Server]) -> None:
    server = start_server("--auth", "none")
    populate(server.url, THINGS)
    iot = server.client("iot")
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})
    searcher = server.client("iot", config=Config(retries={"max_attempts": 1}, read_timeout=120))
    searches: list[tuple[float, list[str]]] = []
    failure: list[BaseException] = []
    finished = threading.Event()

    def search() -> None:
        try:
            for _ in range(3):  # the first builds every document, the next two reuse them
                started = time.perf_counter()
                result: dict[str, Any] = searcher.search_index(queryString=HEAVY)
                names = [t["thingName"] for t in result["things"]]
                searches.append((time.perf_counter() - started, names))
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)
        finally:
            finished.set()

    thread = threading.Thread(target=search)
    thread.start()
    latencies: list[float] = []
    probe = 0
    while not finished.is_set():
        started = time.perf_counter()
        iot.describe_thing(thingName=f"t{probe % THINGS:06d}")
        latencies.append(time.perf_counter() - started)
        probe += 7919
    thread.join()
    assert not failure, failure
    assert [names for _, names in searches] == [HITS] * 3
    # Each search is heavy enough that a loop held for it would break the 100 ms bound.
    durations = [seconds for seconds, _ in searches]
    assert min(durations) > 0.1, durations
    assert len(latencies) > 20
    slowest = max(latencies)
    assert slowest < 0.1, (slowest, sorted(latencies)[-5:], [s for s, _ in searches])
