"""The conformance table (``tests/conformance/README.md``) is current, complete and honest."""

from __future__ import annotations

from tests.conformance import table


def test_the_page_is_current() -> None:
    committed = (table.HERE / "README.md").read_text(encoding="utf-8")
    assert committed == table.page(), (
        "tests/conformance/README.md is out of date: run "
        "`uv run --all-groups python -m tests.conformance.table > tests/conformance/README.md`"
    )


def test_every_served_operation_is_called_by_a_test_over_the_wire() -> None:
    untested = [
        f"{row.service} {row.operation}"
        for row in table.rows()
        if row.served and not row.over_the_wire
    ]
    assert not untested, f"served but called by no boto3 test against a real server: {untested}"


def test_every_served_operation_belongs_to_an_emulated_area() -> None:
    orphans = [row.operation for row in table.rows() if row.served and not row.area]
    assert not orphans, f"give these an area in tests/conformance/table.py: {orphans}"


def test_every_mqtt_topic_is_exercised_by_a_test() -> None:
    untested = [topic for _, topic, pattern in table.MQTT_TOPICS if not table.mqtt_callers(pattern)]
    assert not untested, f"no test publishes or waits for: {untested}"


def test_notes_name_real_operations_and_topics() -> None:
    known = {op for ops in table.model_operations().values() for op in ops}
    known |= {topic for _, topic, _ in table.MQTT_TOPICS}
    unknown = sorted(set(table.differences()) - known)
    assert not unknown, (
        f"differences.toml names what is neither an operation nor a topic: {unknown}"
    )


def test_notes_are_for_served_operations() -> None:
    served = {operation for _, operation in table.served()}
    topics = {topic for _, topic, _ in table.MQTT_TOPICS}
    stray = sorted(set(table.differences()) - served - topics)
    assert not stray, f"differences.toml notes operations the emulator does not serve: {stray}"


def test_client_calls_finds_methods_and_paginators() -> None:
    source = 'iot.create_job(jobId="j")\niot.get_paginator("list_things").paginate()\n'
    assert {"create_job", "list_things"} <= table.client_calls(source)
