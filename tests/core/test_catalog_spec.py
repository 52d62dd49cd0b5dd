"""The catalog file format: TOML and JSON decode to a spec, which replays into a Catalog."""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.core.catalog import Catalog, S3Location, VersionStatus
from simulator.core.catalog.spec import build_catalog, load
from simulator.core.errors import ConflictException, UsageError

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "examples" / "catalog.toml"


def catalog_from(doc: dict[str, Any]) -> Catalog:
    return build_catalog(load(orjson.dumps(doc), fmt="json"))


def usage_error(data: bytes | dict[str, Any], fmt: Literal["toml", "json"] = "json") -> str:
    """The message of the UsageError that loading and building ``data`` raises."""
    raw = orjson.dumps(data) if isinstance(data, dict) else data
    with pytest.raises(UsageError) as info:
        build_catalog(load(raw, fmt=fmt))
    return info.value.message


def one_version(**fields: Any) -> dict[str, Any]:
    return {"packages": [{"name": "p", "versions": [{"name": "1", **fields}]}]}


# -- the shipped example ----------------------------------------------------------------------


def test_shipped_example_loads() -> None:
    catalog = build_catalog(load(EXAMPLE.read_bytes(), fmt="toml"))
    pkg = catalog.get_package("samplePackage")
    assert pkg.default_version == "2.1.5"
    assert pkg.arn == "arn:aws:iot:us-west-2:123456789012:package/samplePackage"
    statuses = {v.name: v.status for v in pkg.versions.values()}
    assert statuses == {
        "2.1.5": VersionStatus.PUBLISHED,
        "2.0.0": VersionStatus.DEPRECATED,
        "2.2.0-beta": VersionStatus.DRAFT,
    }
    current = catalog.get_version("samplePackage", "2.1.5")
    assert current.attributes["install:path"] == "/opt/samplePackage"
    assert set(current.attributes) == {"s3URL", "signature", "install:path"}
    assert current.artifact == S3Location(
        "examplebucket", "samplePackage/2.1.5/exampleCodeFile", "3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
    )
    assert catalog.configuration.version_update_by_jobs
    assert catalog.configuration.role_arn == (
        "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"
    )


def test_json_and_toml_describe_the_same_catalog() -> None:
    as_json = orjson.dumps(tomllib.loads(EXAMPLE.read_text()))
    assert load(as_json, fmt="json") == load(EXAMPLE.read_bytes(), fmt="toml")


# -- defaults and replay ----------------------------------------------------------------------


def test_minimal_file_uses_the_defaults() -> None:
    catalog = build_catalog(load(b"", fmt="toml"))
    assert (catalog.scope.region, catalog.scope.account) == ("us-east-1", "123456789012")
    assert not catalog.configuration.version_update_by_jobs
    assert catalog.list_packages() == ([], None)


def test_versions_are_published_unless_told_otherwise() -> None:
    catalog = catalog_from(
        {
            "packages": [
                {
                    "name": "p",
                    "default_version": "2",
                    "versions": [{"name": "1"}, {"name": "2", "status": "DEPRECATED"}],
                }
            ]
        }
    )
    assert catalog.get_version("p", "1").status is VersionStatus.PUBLISHED
    assert catalog.get_version("p", "2").status is VersionStatus.DEPRECATED
    assert catalog.default_version_of("p") == "2"


def test_published_attributes_are_frozen_after_loading() -> None:
    catalog = catalog_from(one_version(attributes={"k": "v"}))
    with pytest.raises(ConflictException):
        catalog.update_version("p", "1", now=1, attributes={"k": "w"})


# -- errors name the field --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"region": 1}, "$.region"),
        ({"packages": {}}, "$.packages"),
        ({"packages": [{"name": 1}]}, "$.packages[0].name"),
        (one_version(attributes=[]), "$.packages[0].versions[0].attributes"),
        (one_version(attributes={"k": 1}), "$.packages[0].versions[0].attributes"),
        (one_version(artifact="s3://b/k"), "$.packages[0].versions[0].artifact"),
        ({"configuration": {"version_update_by_jobs": "yes"}}, "$.configuration"),
    ],
)
def test_wrong_types_name_the_field(doc: dict[str, Any], path: str) -> None:
    message = usage_error(doc)
    assert message.startswith("Expected `")
    assert f"at `{path}" in message


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"packages": [{"description": "d"}]}, "$.packages[0]"),
        (one_version(artifact={"bucket": "b"}), "$.packages[0].versions[0].artifact"),
    ],
)
def test_missing_required_fields_name_the_field(doc: dict[str, Any], path: str) -> None:
    message = usage_error(doc)
    assert "missing required field" in message
    assert message.endswith(f"at `{path}`")


@pytest.mark.parametrize(
    ("doc", "path", "field"),
    [
        ({"regoin": "x"}, None, "regoin"),
        ({"packages": [{"name": "p", "default": "1"}]}, "$.packages[0]", "default"),
        (one_version(state="PUBLISHED"), "$.packages[0].versions[0]", "state"),
        (
            one_version(artifact={"bucket": "b", "key": "k", "region": "x"}),
            "$.packages[0].versions[0].artifact",
            "region",
        ),
    ],
)
def test_unknown_fields_are_refused(doc: dict[str, Any], path: str | None, field: str) -> None:
    message = usage_error(doc)
    assert f"unknown field `{field}`" in message
    if path is not None:  # a top-level field is named without a path
        assert message.endswith(f"at `{path}`")


@pytest.mark.parametrize("status", ["published", "ACTIVE", ""])
def test_bad_status_names_the_field(status: str) -> None:
    assert "$.packages[0].versions[0].status" in usage_error(one_version(status=status))


def test_toml_errors_name_the_field_too() -> None:
    message = usage_error(b'[[packages]]\nname = "p"\n[[packages.versions]]\nname = 2\n', "toml")
    assert "$.packages[0].versions[0].name" in message


@pytest.mark.parametrize("status", ["DRAFT", None])
def test_default_version_must_be_deployable_and_exist(status: str | None) -> None:
    versions = [] if status is None else [{"name": "1", "status": status}]
    doc = {"packages": [{"name": "p", "default_version": "1", "versions": versions}]}
    message = usage_error(doc)
    assert message.startswith("$.packages[0].default_version: ")


@pytest.mark.parametrize(
    ("doc", "prefix"),
    [
        ({"packages": [{"name": "p"}, {"name": "p"}]}, "$.packages[1]: "),
        ({"packages": [{"name": "bad name"}]}, "$.packages[0]: "),
        ({"packages": [{"name": "p", "description": "x" * 1025}]}, "$.packages[0]: "),
        (one_version(attributes={"bad key": "v"}), "$.packages[0].versions[0]: "),
        (one_version(attributes={"k": ""}), "$.packages[0].versions[0]: "),
        (one_version(attributes={"k": "é" * 1536}), "$.packages[0].versions[0]: "),
        (one_version(recipe="r" * 3073), "$.packages[0].versions[0]: "),
        (one_version(name="$default"), "$.packages[0].versions[0]: "),
        (
            {"packages": [{"name": "p", "versions": [{"name": "1"}, {"name": "1"}]}]},
            "$.packages[0].versions[1]: ",
        ),
        ({"configuration": {"role_arn": "too-short"}}, "$.configuration: "),
    ],
)
def test_catalog_rules_apply_and_name_the_entry(doc: dict[str, Any], prefix: str) -> None:
    assert usage_error(doc).startswith(prefix)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"region = ", "toml"),
        (b"[[packages]\nname = 'p'", "toml"),
        (b"region = 'a'\nregion = 'b'", "toml"),
        (b"\xff\xfe[packages]", "toml"),
        (b"a = " + b"[" * 5000, "toml"),
        (b"{", "json"),
        (b"\xff", "json"),
        (b"[" * 5000, "json"),
    ],
)
def test_undecodable_files_are_usage_errors(data: bytes, fmt: Literal["toml", "json"]) -> None:
    with pytest.raises(UsageError) as info:
        load(data, fmt=fmt)
    assert info.value.message


def test_invalid_toml_says_so() -> None:
    assert usage_error(b"region = ", "toml").startswith("not valid TOML: ")
    assert usage_error(b"{", "json").startswith("not valid JSON: ")


@given(st.binary(max_size=200), st.sampled_from(["toml", "json"]))
def test_any_bytes_load_or_raise_usage_error(data: bytes, fmt: Literal["toml", "json"]) -> None:
    try:
        spec = load(data, fmt=fmt)
    except UsageError:
        return
    with contextlib.suppress(UsageError):
        build_catalog(spec)


@given(st.text(max_size=200))
def test_any_text_loads_or_raises_usage_error(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    with contextlib.suppress(UsageError):
        load(data, fmt="toml")
    with contextlib.suppress(UsageError):
        load(data, fmt="json")
