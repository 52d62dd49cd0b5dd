"""(f) Bad MQTT options of ``fleetsim run``: one line on stderr, exit status 2, nothing run.

The table runs in this process (:mod:`tests.fleetsim_cli`), with the MQTT run replaced by a
failure should an option get through; one case runs as the console process too (``slow``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.commands import run as run_command
from simulator.core.errors import UsageError
from tests.fleet_mqtt.support import fleetsim, load, mqtt_run, options, quick_scenario
from tests.fleetsim_cli import fleetsim as fleetsim_in_process
from tests.mqtt_broker import free_port

CASES = {
    "TLS file without --broker": (["--cert-dir", "."], "--cert-dir needs --broker"),
    "not a broker URI": (["--broker", "http://127.0.0.1:1883"], "unsupported scheme"),
    "shard without external plane": (
        ["--broker", "mqtt://127.0.0.1:1883", "--shard", "1/2"],
        "--shard needs an external control plane",
    ),
    "shard out of range": (["--broker", "mqtt://127.0.0.1:1883", "--shard", "2/2"], "shard"),
    "bad control plane": (
        ["--broker", "mqtt://127.0.0.1:1883", "--control-plane", "ftp://x"],
        "--control-plane",
    ),
    "CA on a plain broker": (
        ["--broker", "mqtt://127.0.0.1:1883", "--broker-ca", "ca.pem"],
        "need an mqtts:// broker",
    ),
    "AWS without certificates": (
        ["--broker", "mqtts://example-ats.iot.us-east-1.amazonaws.com", "--control-plane", "aws"],
        "certificates",
    ),
    "zero connect rate": (
        ["--broker", "mqtt://127.0.0.1:1883", "--connect-rate", "0"],
        "--connect-rate",
    ),
    "not a number": (["--broker", "mqtt://127.0.0.1:1883", "--connect-rate", "fast"], "invalid"),
    "bad source address": (
        ["--broker", "mqtt://127.0.0.1:1883", "--source-addresses", "127.0.0.300"],
        "not an IP address",
    ),
    "both certificate kinds": (
        [
            *("--broker", "mqtts://127.0.0.1:8883", "--cert-dir", "."),
            *("--client-cert", "c.pem", "--client-key", "k.pem"),
        ],
        "not both",
    ),
    "too many bridge connections": (
        ["--broker", "mqtt://127.0.0.1:1883", "--bridge-connections", "11"],
        "--bridge-connections",
    ),
    "rollout rate for an external plane": (
        [
            *("--broker", "mqtt://127.0.0.1:1883"),
            *("--control-plane", "http://127.0.0.1:1", "--rollout-rate", "5000"),
        ],
        "--rollout-rate",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_options_are_one_line_and_exit_2(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("fleetsim run got past checking its MQTT options")

    monkeypatch.setattr(run_command, "run_scenario", started)
    scenario = quick_scenario(tmp_path / "scenario", devices=2)
    args, expected = CASES[case]
    ran = fleetsim_in_process("run", scenario, *args, "--quiet", "--out", tmp_path / "out")
    assert ran.returncode == 2, (ran.stdout, ran.stderr)
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("fleetsim run: error:"), lines[0]
    assert expected in lines[0], lines[0]
    assert not (tmp_path / "out" / "report.json").exists()


@pytest.mark.slow  # end to end: the console process
def test_bad_options_exit_2_from_the_console_process(tmp_path: Path) -> None:
    scenario = quick_scenario(tmp_path / "scenario", devices=2)
    args, expected = CASES["zero connect rate"]
    ran = fleetsim("run", scenario, *args, "--quiet", "--out", tmp_path / "out", timeout=60)
    assert ran.returncode == 2, (ran.stdout, ran.stderr)
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("fleetsim run: error:") and expected in lines[0], lines[0]
    assert not (tmp_path / "out" / "report.json").exists()


@pytest.mark.asyncio
async def test_an_unreachable_broker_is_reported_not_waited_for(tmp_path: Path) -> None:
    scenario = load(quick_scenario(tmp_path / "scenario", devices=2))
    run = mqtt_run(scenario, options(f"mqtt://127.0.0.1:{free_port()}"))
    run.plane.open_timeout_s = 1.5  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="could not connect to the broker"):
        await run.run()
