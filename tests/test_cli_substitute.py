"""``fleetsim substitute`` as a user runs it: its document on stdout, one line and exit 2 on bad
input.

The command runs in this process (:mod:`tests.fleetsim_cli`); the ``slow`` tests run it as the
console process too (a subprocess), for its real exit status and output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fleetsim_cli import fleetsim as fleetsim_in_process

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "scenarios" / "examples"
CATALOG = EXAMPLES / "catalog.toml"
ARN = "arn:aws:iot:us-west-2:123456789012:package/samplePackage/version/"


def console(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m simulator.cli ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_sample_package_document_resolves() -> None:
    result = fleetsim_in_process(
        "substitute",
        EXAMPLES / "samplePackage-job.json",
        "--catalog",
        CATALOG,
        "--destination-package-versions",
        ARN + "2.1.5",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    download, verify, install = (step["action"]["input"]["args"] for step in doc["steps"])
    assert download[0] == "https://EXAMPIEBUCKET.s3.us-west-2.amazonaws.com/exampleCodeFile"
    assert verify[1] == "aaaaabbbbbcccccdddddeeeeefffffggggghhhhhiiiiijjjj"
    assert install[2] == "/opt/samplePackage"
    assert doc["package"]["attributes"] == {
        "s3URL": download[0],
        "signature": verify[1],
        "install:path": "/opt/samplePackage",
    }


def test_before_prints_the_submitted_document() -> None:
    source = (EXAMPLES / "samplePackage-job.json").read_text()
    result = fleetsim_in_process(
        "substitute",
        EXAMPLES / "samplePackage-job.json",
        "--catalog",
        CATALOG,
        "--destination-package-versions",
        ARN + "2.1.5",
        "--before",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(source)


def test_device_render_mints_presigned_urls() -> None:
    result = fleetsim_in_process(
        "substitute",
        EXAMPLES / "any-package-job.json",
        "--catalog",
        CATALOG,
        "--destination-package-versions",
        ARN + "$default",
        "--role-arn",
        "arn:aws:iam::123456789012:role/presign",
        "--device",
        "thing-7",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    url = doc["steps"][0]["action"]["input"]["args"][0]
    assert url.startswith("https://s3.us-west-2.amazonaws.com/EXAMPIEBUCKET/exampleCodeFile?")
    assert "X-Amz-Signature=" in url
    assert "versionId=3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY" in doc["artifactUrl"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--destination-package-versions", ARN + "2.2.0-beta"], "DRAFT"),
        (["--destination-package-versions", ARN + "2.0.0"], "does not match"),
        ([], "multiple elements"),
        (["--destination-package-versions", ARN + "$null"], "$null is not allowed"),
        (["--destination-package-versions", "not-an-arn"], "Invalid package version ARN"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], expected: str) -> None:
    doc = "any-package-job.json" if expected != "does not match" else "samplePackage-job.json"
    result = fleetsim_in_process(
        "substitute",
        EXAMPLES / doc,
        "--catalog",
        CATALOG,
        "--role-arn",
        "arn:aws:iam::123456789012:role/presign",
        *args,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["substitute", "missing.json", "--catalog", str(CATALOG)],
        ["substitute", str(EXAMPLES / "samplePackage-job.json"), "--catalog", "missing.toml"],
        ["substitute", str(EXAMPLES / "samplePackage-job.json")],
        ["substitute", str(CATALOG), "--catalog", str(CATALOG)],
        ["no-such-command"],
    ],
)
def test_unreadable_or_missing_input_is_one_line(argv: list[str]) -> None:
    result = fleetsim_in_process(*argv)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # end to end: the console process
def test_the_console_process_prints_the_document() -> None:
    args = (
        "substitute",
        EXAMPLES / "samplePackage-job.json",
        "--catalog",
        CATALOG,
        "--destination-package-versions",
        ARN + "2.1.5",
    )
    result = console(*args)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == fleetsim_in_process(*args).stdout


@pytest.mark.slow  # end to end: the console process
def test_bad_input_exits_2_from_the_console_process() -> None:
    result = console(
        "substitute",
        EXAMPLES / "any-package-job.json",
        "--catalog",
        CATALOG,
        "--destination-package-versions",
        "not-an-arn",
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Invalid package version ARN" in lines[0]
