"""``fleetsim substitute`` end to end, as a user runs it (a subprocess of the console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "scenarios" / "examples"
CATALOG = EXAMPLES / "catalog.toml"
ARN = "arn:aws:iot:us-west-2:123456789012:package/samplePackage/version/"


def fleetsim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_sample_package_document_resolves() -> None:
    result = fleetsim(
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
    result = fleetsim(
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
    result = fleetsim(
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
    result = fleetsim(
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
    result = fleetsim(*argv)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
