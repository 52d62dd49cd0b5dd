"""``fleetsim bench``: every benchmark is listed, loads without its optional peers, and refuses bad
input, a missing ``mosquitto`` or a missing peer it was asked for in one line, exit 2, before
it starts anything. In this process (:mod:`tests.fleetsim_cli`); the runs are in the other
``test_bench_*`` modules, in subprocesses."""

from __future__ import annotations

import sys

import pytest

from benchmarks._shim import bench
from simulator.bench import BENCHMARKS
from simulator.bench import mqtt as mqtt_bench
from simulator.transport.broker import local
from tests.bench.console import ROOT
from tests.fleetsim_cli import fleetsim

NAMES = {"substitution", "fleet", "api", "mqtt", "mqtt-bridge", "locust", "paging"}


def _one_line_error(result: object, *needles: str) -> str:
    assert getattr(result, "returncode", None) == 2
    assert getattr(result, "stdout", None) == ""
    err = str(getattr(result, "stderr", ""))
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_help_lists_every_benchmark() -> None:
    result = fleetsim("bench", "--help")
    assert result.returncode == 0
    assert set(BENCHMARKS) == NAMES
    for name, benchmark in BENCHMARKS.items():
        assert f"  {name} " in result.stdout
        assert benchmark.summary[:40] in result.stdout.replace("\n", " ")


@pytest.mark.parametrize("name", sorted(NAMES))
def test_each_benchmark_has_its_help(name: str) -> None:
    result = fleetsim("bench", name, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: fleetsim bench {name}")


BAD = [
    (("fleet", "--sizes", "10,x"), "--sizes"),
    (("fleet", "--repeat", "0"), "--repeat"),
    (("fleet", "--scenario", "nope.toml"), "nope.toml"),
    (("api", "--duration", "0"), "--duration"),
    (("api", "--duration", "600"), "signatures expire"),
    (("api", "--connections", "0"), "--connections"),
    (("mqtt", "--clients", "raw,nope"), "unknown client 'nope'"),
    (("mqtt", "--sections", "rollout,bogus"), "--sections"),
    (("mqtt", "--devices", "x"), "--devices"),
    (("mqtt", "--rollout-devices", "0"), "--rollout-devices"),
    (("mqtt-bridge", "--connections", "1,11"), "--connections"),
    (("mqtt-bridge", "--devices", "0"), "--devices"),
    (("locust", "--ours", "0"), "--ours"),
    (("locust", "--clients", "gevent"), "unknown client"),
    (("locust", "--window", "0"), "--window"),
    (("paging", "--sizes", "10,x"), "--sizes"),
    (("paging", "--rounds", "0"), "--rounds"),
    (("fleet", "--nosuch"), "unrecognized arguments"),
]


@pytest.mark.parametrize(("args", "needle"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line(args: tuple[str, ...], needle: str) -> None:
    err = _one_line_error(fleetsim("bench", *args), needle)
    assert err.startswith(f"fleetsim bench {args[0]}: error: ")


@pytest.mark.parametrize(
    "args", [("mqtt", "--quick"), ("mqtt-bridge", "--quick"), ("locust", "--ours", "20")]
)
def test_without_mosquitto_it_says_how_to_install_it(
    args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local.shutil, "which", lambda *a, **k: None)
    _one_line_error(fleetsim("bench", *args), "apt-get install -y mosquitto")


def test_a_peer_asked_for_by_name_must_be_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gmqtt", None)  # find_spec: not installed
    result = fleetsim("bench", "mqtt", "--clients", "raw,gmqtt", "--quick")
    _one_line_error(result, "gmqtt is not installed", "pip install 'fleetsim[bench]'")


def test_peers_not_installed_are_skipped_with_a_note(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "gmqtt", None)
    monkeypatch.setitem(sys.modules, "aiomqtt", None)
    skipped: list[dict[str, str]] = []
    assert mqtt_bench._clients(None, skipped) == ["raw", "fleetsim"]
    assert [s["client"] for s in skipped] == ["gmqtt", "aiomqtt"]
    assert all("pip install 'fleetsim[bench]'" in s["reason"] for s in skipped)
    assert capsys.readouterr().err.count("fleetsim bench mqtt: skipping") == 2


def test_installed_peers_are_all_measured_by_default() -> None:
    # The dev group installs every peer (as fleetsim[bench] does).
    assert mqtt_bench._clients(None, []) == ["raw", "fleetsim", "gmqtt", "aiomqtt"]


def test_the_developer_shims_run_the_same_commands(capsys: pytest.CaptureFixture[str]) -> None:
    shims = {
        path.stem.replace("_", "-"): path
        for path in (ROOT / "benchmarks").glob("*.py")
        if "benchmarks._shim import bench" in path.read_text()
    }
    assert set(shims) == NAMES - {"substitution"}  # benchmarks.substitution: generated documents
    for name in shims:
        with pytest.raises(SystemExit) as done:
            bench(name, ["--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: fleetsim bench {name}")
