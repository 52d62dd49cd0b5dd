"""``fleetsim bench substitution``: its table, its ``--json`` shape, and bad input.

The command runs in this process (:mod:`tests.fleetsim_cli`) with tiny, quick runs: no assertion
on the numbers, which mean nothing at this size on a shared machine, only on their shape and on
what the run checked (byte-identical URLs). The ``slow`` test runs the console process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.bench import BENCHMARKS
from tests.fleetsim_cli import fleetsim

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "scenarios" / "examples"
QUICKSTART = ("scenarios/jobs/install-package.json", "--catalog", "scenarios/quickstart.toml")
GATEWAY = (
    "scenarios/examples/gateway-update-job.json",
    *("--catalog", "scenarios/examples/gateway-catalog.toml"),
    "--destination-package-versions",
    *("gateway-firmware@$default", "gateway-agent@1.9.3", "vision-model@$default"),
)
TINY = ("--devices", "4", "--rounds", "1", "--quick")
ROW_KEYS = {
    "phase",
    "implementation",
    "us_per_doc",
    "docs_per_s",
    "x_naive",
    "p50_us",
    "p99_us",
}
PRESIGN_KEYS = {
    "urls_per_render",
    "urls_compared",
    "fleetsim_us_per_url",
    "botocore_us_per_url",
    "x_botocore",
    "identical",
}
ROWS = [
    ("create-job", "naive-stdlib"),
    ("create-job", "orjson-loads"),
    ("create-job", "fleetsim-cold"),
    ("create-job", "fleetsim-warm"),
    ("create-job", "fleetsim-render"),
    ("device-fetch", "naive-stdlib"),
    ("device-fetch", "botocore"),
    ("device-fetch", "fleetsim"),
]


def _json(*args: str) -> dict[str, object]:
    result = fleetsim("bench", "substitution", *args, *TINY, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("args", "urls"),
    [((*QUICKSTART, "--destination-package-versions", "agent@1.2.0"), 1), (GATEWAY, 5)],
    ids=["quickstart", "gateway"],
)
def test_json_shape(args: tuple[str, ...], urls: int) -> None:
    data = _json(*args)
    rows = data["rows"]
    assert isinstance(rows, list)
    assert [(r["phase"], r["implementation"]) for r in rows] == ROWS
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["us_per_doc"] > 0 and row["docs_per_s"] > 0
        assert row["x_naive"] > 0
        if row["phase"] == "device-fetch":
            assert 0 < row["p50_us"] <= row["p99_us"]
        else:
            assert row["p50_us"] is None and row["p99_us"] is None
    presign = data["presign"]
    assert isinstance(presign, dict)
    assert set(presign) == PRESIGN_KEYS
    assert presign["identical"] is True
    assert presign["urls_per_render"] == urls
    assert presign["urls_compared"] == 4 * urls  # 4 devices, 1 round
    assert presign["x_botocore"] > 0
    assert data["notes"] == []
    assert {t["pass"] for t in data["targets"]} <= {True, False}  # type: ignore[union-attr]


def test_table() -> None:
    result = fleetsim(
        "bench", "substitution", *QUICKSTART, "--destination-package-versions", "agent@1.2.0", *TINY
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("phase 1 (CreateJob)")  # progress, then the table
    header = "| phase | implementation | µs/doc | docs/s | p50 µs | p99 µs | x naive |"
    assert header in lines
    assert sum(line.startswith("| 1 CreateJob |") for line in lines) == 5
    assert sum(line.startswith("| 2 device fetch |") for line in lines) == 3
    assert any("4 URLs compared, byte-identical" in line for line in lines)


def test_a_document_without_presigned_urls() -> None:
    data = _json(
        str(EXAMPLES / "samplePackage-job.json"),
        *("--catalog", str(EXAMPLES / "catalog.toml")),
        *("--destination-package-versions", "samplePackage@2.1.5"),
    )
    assert {r["phase"] for r in data["rows"]} == {"create-job"}  # type: ignore[union-attr]
    assert data["presign"]["x_botocore"] is None  # type: ignore[index]
    assert data["notes"] == ["no presigned URLs: devices receive the stored document as it is"]


CATALOG = ("--catalog", "scenarios/examples/catalog.toml")
ROLE = ("--role-arn", "arn:aws:iam::123456789012:role/JobsPresign")
BAD = [
    (("missing.json", *CATALOG), "cannot read document missing.json"),
    (("scenarios/examples/any-package-job.json", "--catalog", "nope.toml"), "cannot read catalog"),
    (("scenarios/examples/catalog.toml", *CATALOG), "The job document is not valid JSON."),
    (("scenarios/examples/any-package-job.json", *CATALOG, *ROLE), "Cannot resolve empty"),
    (
        (
            "scenarios/examples/samplePackage-job.json",
            *CATALOG,
            "--destination-package-versions",
            "arn:aws:iot:us-west-2:123456789012:package/samplePackage/version/2.2.0-beta",
        ),
        "is DRAFT",
    ),
]


@pytest.mark.parametrize(
    ("args", "message"), BAD, ids=["no-doc", "no-catalog", "not-json", "no-dpv", "draft"]
)
def test_bad_input_is_substitutes_one_line(args: tuple[str, ...], message: str) -> None:
    mine = fleetsim("bench", "substitution", *args)
    theirs = fleetsim("substitute", *args)
    assert (mine.returncode, mine.stdout) == (2, "")
    assert mine.stderr.count("\n") == 1 and message in mine.stderr
    assert mine.stderr.startswith("fleetsim bench substitution: error: ")
    assert mine.stderr.split(": error: ", 1)[1] == theirs.stderr.split(": error: ", 1)[1]


@pytest.mark.parametrize(
    "args",
    [
        ("bench",),
        ("bench", "nosuch"),
        ("bench", "substitution"),
        ("bench", "substitution", *QUICKSTART, "--devices", "0"),
        ("bench", "substitution", *QUICKSTART, "--rounds", "x"),
    ],
)
def test_bad_command_lines_are_one_line(args: tuple[str, ...]) -> None:
    result = fleetsim(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_every_registered_benchmark_loads() -> None:
    for name, benchmark in BENCHMARKS.items():
        module = benchmark.load()
        assert callable(module.add_arguments) and callable(module.run), name


@pytest.mark.slow  # the console process: interpreter and imports, a real run
def test_console_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "bench", "substitution", *GATEWAY, *TINY, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["presign"]["identical"] is True
