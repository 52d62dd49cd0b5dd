"""Software Package Catalog rules: packages, versions, lifecycle, edits, defaults, limits."""

from __future__ import annotations

import itertools

import orjson
import pytest

from simulator.core.arn import Scope, parse_package_version_arn
from simulator.core.catalog import Catalog, S3Location, VersionAction, VersionStatus
from simulator.core.catalog.model import LIFECYCLE
from tests.core.catalog_support import (
    CONFLICT,
    NOT_FOUND,
    VALIDATION,
    aws_error,
    snapshot,
    version_in,
)

DRAFT, PUBLISHED, DEPRECATED = (
    VersionStatus.DRAFT,
    VersionStatus.PUBLISHED,
    VersionStatus.DEPRECATED,
)
PUBLISH, DEPRECATE = VersionAction.PUBLISH, VersionAction.DEPRECATE
ARTIFACT = S3Location("bucket", "pkg/1.zip", "v1")


@pytest.fixture
def catalog() -> Catalog:
    return Catalog()


# -- packages ---------------------------------------------------------------------------------


def test_create_and_get_package(catalog: Catalog) -> None:
    pkg = catalog.create_package("samplePackage", now=5.0, description="d", tags={"team": "x"})
    assert pkg.arn == "arn:aws:iot:us-east-1:123456789012:package/samplePackage"
    assert (pkg.created, pkg.modified, pkg.description, pkg.tags) == (5.0, 5.0, "d", {"team": "x"})
    assert pkg.default_version is None
    assert catalog.get_package("samplePackage") is pkg


def test_arns_follow_the_scope() -> None:
    catalog = Catalog(Scope(region="cn-north-1", account="111122223333", partition="aws-cn"))
    assert (
        catalog.create_package("p", now=0).arn == "arn:aws-cn:iot:cn-north-1:111122223333:package/p"
    )
    version = catalog.create_version("p", "1.0", now=0)
    parsed = parse_package_version_arn(version.arn)
    assert (parsed.scope, parsed.package, parsed.version) == (catalog.scope, "p", "1.0")


@pytest.mark.parametrize("name", ["", "a b", "a/b", "p" * 129, "$default", "pä", "a:b"])
def test_invalid_package_names(catalog: Catalog, name: str) -> None:
    for call in (
        lambda: catalog.create_package(name, now=0),
        lambda: catalog.get_package(name),
        lambda: catalog.delete_package(name),
        lambda: catalog.create_version(name, "1", now=0),
    ):
        with aws_error(VALIDATION):
            call()
    assert snapshot(catalog) == snapshot(Catalog())


def test_longest_names_are_accepted(catalog: Catalog) -> None:
    catalog.create_package("p" * 128, now=0)
    assert catalog.create_version("p" * 128, "v" * 64, now=0).name == "v" * 64


def test_duplicate_package_is_a_conflict_naming_it(catalog: Catalog) -> None:
    catalog.create_package("p", now=0, description="first")
    with aws_error(CONFLICT) as info:
        catalog.create_package("p", now=1, description="second")
    assert info.value.fields() == {"message": info.value.message, "resourceId": "p"}
    assert catalog.get_package("p").description == "first"


def test_get_missing_package(catalog: Catalog) -> None:
    with aws_error(NOT_FOUND):
        catalog.get_package("nope")
    with aws_error(NOT_FOUND):
        catalog.update_package("nope", now=0, description="d")


def test_update_package_description(catalog: Catalog) -> None:
    catalog.create_package("p", now=1)
    pkg = catalog.update_package("p", now=7, description="new")
    assert (pkg.description, pkg.created, pkg.modified) == ("new", 1, 7)


def test_delete_package_needs_zero_versions(catalog: Catalog) -> None:
    catalog.create_package("p", now=0)
    catalog.create_version("p", "1", now=0)
    before = snapshot(catalog)
    with aws_error(VALIDATION):
        catalog.delete_package("p")
    assert snapshot(catalog) == before
    catalog.delete_version("p", "1")
    catalog.delete_package("p")
    with aws_error(NOT_FOUND):
        catalog.get_package("p")


def test_deleting_what_does_not_exist_succeeds(catalog: Catalog) -> None:
    catalog.delete_package("ghost")
    catalog.delete_version("ghost", "1")
    catalog.create_package("p", now=0)
    catalog.delete_version("p", "1")
    assert [p.name for p in catalog.list_packages()[0]] == ["p"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"description": "x" * 1025},
        {"description": "line\nbreak"},
        {"description": 3},
        {"tags": {}},
        {"tags": {f"k{i}": "v" for i in range(51)}},
        {"tags": {"k": "v" * 257}},
        {"tags": {"k" * 129: "v"}},
        {"tags": {"bad#key": "v"}},
    ],
)
def test_invalid_package_fields(catalog: Catalog, kwargs: dict[str, object]) -> None:
    with aws_error(VALIDATION):
        catalog.create_package("p", now=0, **kwargs)  # type: ignore[arg-type]
    assert not catalog.has_package("p")


def test_field_limits_are_inclusive(catalog: Catalog) -> None:
    tags = {f"k{i}": "v" * 256 for i in range(50)}
    pkg = catalog.create_package("p", now=0, description="x" * 1024, tags=tags)
    assert pkg.tags == tags
    version = catalog.create_version("p", "1", now=0, description="", recipe="r" * 3072)
    assert version.recipe == "r" * 3072
    with aws_error(VALIDATION):
        catalog.create_version("p", "2", now=0, recipe="r" * 3073)


# -- versions ---------------------------------------------------------------------------------


def test_new_version_is_draft_and_keeps_its_fields(catalog: Catalog) -> None:
    catalog.create_package("p", now=1)
    attrs = {"s3URL": "https://b.s3/x", "install:path": "/opt/p"}
    version = catalog.create_version(
        "p", "1.0", now=2, description="d", attributes=attrs, artifact=ARTIFACT, recipe="{}"
    )
    attrs["s3URL"] = "changed by the caller"
    assert version.status is DRAFT
    assert version.attributes == {"s3URL": "https://b.s3/x", "install:path": "/opt/p"}
    assert (version.artifact, version.recipe, version.description) == (ARTIFACT, "{}", "d")
    assert version.arn == "arn:aws:iot:us-east-1:123456789012:package/p/version/1.0"
    assert catalog.get_version("p", "1.0") is version
    assert catalog.get_package("p").modified == 2


def test_version_of_missing_package(catalog: Catalog) -> None:
    with aws_error(VALIDATION):
        catalog.create_version("nope", "1", now=0)
    with aws_error(NOT_FOUND):
        catalog.get_version("nope", "1")


def test_missing_version(catalog: Catalog) -> None:
    catalog.create_package("p", now=0)
    with aws_error(NOT_FOUND):
        catalog.get_version("p", "1")
    with aws_error(NOT_FOUND):
        catalog.update_version("p", "1", now=0, action=PUBLISH)
    assert catalog.find_version("p", "1") is None
    assert catalog.find_version("q", "1") is None


def test_duplicate_version_is_a_conflict(catalog: Catalog) -> None:
    version_in(catalog, PUBLISHED)
    before = snapshot(catalog)
    with aws_error(CONFLICT) as info:
        catalog.create_version("pkg", "1.0.0", now=9)
    assert info.value.fields()["resourceId"] == "1.0.0"
    assert snapshot(catalog) == before


@pytest.mark.parametrize("name", ["", "1 0", "1/0", "v" * 65, "$default", "$null", "1+b"])
def test_invalid_version_names(catalog: Catalog, name: str) -> None:
    catalog.create_package("p", now=0)
    before = snapshot(catalog)
    for call in (
        lambda: catalog.create_version("p", name, now=0),
        lambda: catalog.get_version("p", name),
        lambda: catalog.delete_version("p", name),
        lambda: catalog.update_package("p", now=0, default_version=name),
    ):
        with aws_error(VALIDATION):
            call()
    assert snapshot(catalog) == before


def test_delete_version(catalog: Catalog) -> None:
    version_in(catalog, DEPRECATED)
    catalog.delete_version("pkg", "1.0.0")
    with aws_error(NOT_FOUND):
        catalog.get_version("pkg", "1.0.0")
    assert catalog.create_version("pkg", "1.0.0", now=9).status is DRAFT


# -- lifecycle --------------------------------------------------------------------------------


def test_lifecycle_table_has_the_documented_transitions() -> None:
    # Reference section 2: DRAFT -PUBLISH-> PUBLISHED -DEPRECATE-> DEPRECATED -PUBLISH->
    # PUBLISHED; nothing leads back to DRAFT and DRAFT cannot be deprecated.
    assert LIFECYCLE[DRAFT, PUBLISH] is PUBLISHED
    assert LIFECYCLE[PUBLISHED, DEPRECATE] is DEPRECATED
    assert LIFECYCLE[DEPRECATED, PUBLISH] is PUBLISHED
    assert (DRAFT, DEPRECATE) not in LIFECYCLE
    assert DRAFT not in LIFECYCLE.values()
    assert all(key in itertools.product(VersionStatus, VersionAction) for key in LIFECYCLE)


@pytest.mark.parametrize(("state", "action"), list(itertools.product(VersionStatus, VersionAction)))
def test_every_state_and_action(
    catalog: Catalog, state: VersionStatus, action: VersionAction
) -> None:
    version_in(catalog, state)
    target = LIFECYCLE.get((state, action))
    if target is None:
        before = snapshot(catalog)
        with aws_error(CONFLICT) as info:
            catalog.update_version("pkg", "1.0.0", now=50, action=action, description="new")
        assert info.value.fields()["resourceId"] == "1.0.0"
        assert snapshot(catalog) == before
    else:
        version = catalog.update_version("pkg", "1.0.0", now=50, action=action)
        assert version.status is target
        assert version.modified == 50
        assert catalog.get_version("pkg", "1.0.0").status is target


def test_status_filter_follows_transitions(catalog: Catalog) -> None:
    for status, name in zip(VersionStatus, "abc", strict=True):
        version_in(catalog, status, name=name)
    for status, name in zip(VersionStatus, "abc", strict=True):
        assert [v.name for v in catalog.list_versions("pkg", status=status)[0]] == [name]


# -- editable fields per state ----------------------------------------------------------------


def test_draft_edits_everything(catalog: Catalog) -> None:
    version_in(catalog, DRAFT)
    version = catalog.update_version(
        "pkg", "1.0.0", now=9, description="d", attributes={"a": "1"}, artifact=ARTIFACT, recipe="r"
    )
    assert (version.description, version.attributes, version.artifact, version.recipe) == (
        "d",
        {"a": "1"},
        ARTIFACT,
        "r",
    )
    assert version.modified == 9


@pytest.mark.parametrize("state", [PUBLISHED, DEPRECATED])
@pytest.mark.parametrize(
    "edit", [{"attributes": {"k": "w"}}, {"attributes": {}}, {"artifact": ARTIFACT}]
)
def test_attributes_and_artifact_freeze_at_publish(
    catalog: Catalog, state: VersionStatus, edit: dict[str, object]
) -> None:
    version_in(catalog, state)
    before = snapshot(catalog)
    with aws_error(CONFLICT):
        catalog.update_version("pkg", "1.0.0", now=9, description="also", **edit)  # type: ignore[arg-type]
    assert snapshot(catalog) == before


@pytest.mark.parametrize("state", [PUBLISHED, DEPRECATED])
def test_description_and_recipe_stay_editable(catalog: Catalog, state: VersionStatus) -> None:
    version_in(catalog, state)
    version = catalog.update_version("pkg", "1.0.0", now=9, description="d", recipe="r")
    assert (version.description, version.recipe, version.status) == ("d", "r", state)


def test_edit_and_publish_in_one_request(catalog: Catalog) -> None:
    version_in(catalog, DRAFT)
    version = catalog.update_version("pkg", "1.0.0", now=9, action=PUBLISH, attributes={"a": "b"})
    assert (version.status, version.attributes) == (PUBLISHED, {"a": "b"})


def test_recipe_freezes_once_deployed(catalog: Catalog) -> None:
    version_in(catalog, PUBLISHED)
    catalog.update_version("pkg", "1.0.0", now=9, recipe="before")
    catalog.mark_deployed("pkg", "1.0.0")
    before = snapshot(catalog)
    with aws_error(CONFLICT):
        catalog.update_version("pkg", "1.0.0", now=10, recipe="after", description="d")
    assert snapshot(catalog) == before
    assert catalog.update_version("pkg", "1.0.0", now=11, description="d").description == "d"
    catalog.mark_deployed("ghost", "1")  # a deleted package or version is not an error


def test_attribute_edit_refreshes_encodings(catalog: Catalog) -> None:
    version = version_in(catalog, DRAFT, attributes={"k": 'say "hi"'})
    assert version.encoded_attribute("k") == b'say \\"hi\\"'
    assert orjson.loads(version.encoded_attributes()) == {"k": 'say "hi"'}
    catalog.update_version("pkg", "1.0.0", now=9, attributes={"k": "new", "j": "2"})
    assert version.encoded_attribute("k") == b"new"
    assert version.encoded_attribute("missing") is None
    assert orjson.loads(version.encoded_attributes()) == {"k": "new", "j": "2"}


# -- attributes -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a", "install:path", "A-z_0:9", "::", "-"])
def test_attribute_keys_accepted(catalog: Catalog, key: str) -> None:
    assert version_in(catalog, DRAFT, attributes={key: "v"}).attributes == {key: "v"}


@pytest.mark.parametrize(
    "attributes",
    [
        {"": "v"},
        {"a b": "v"},
        {"a.b": "v"},
        {"a/b": "v"},
        {"ä": "v"},
        {"k": ""},
        {"k": "a\nb"},
        {"k": "\x00"},
        {"k": "\x7f"},
        {"k": "zero\u200bwidth"},  # format character (Cf)
        {"k": "\ue000"},  # private use (Co)
        {"k": 1},
        {1: "v"},
    ],
)
def test_attribute_keys_and_values_refused(catalog: Catalog, attributes: dict[str, str]) -> None:
    version_in(catalog, DRAFT)
    before = snapshot(catalog)
    with aws_error(VALIDATION):
        catalog.create_version("pkg", "2", now=0, attributes=attributes)
    with aws_error(VALIDATION):
        catalog.update_version("pkg", "1.0.0", now=9, attributes=attributes, action=PUBLISH)
    assert snapshot(catalog) == before


@pytest.mark.parametrize("value", [" ", "ünïcode ✓", 'quote " and \\ backslash'])
def test_attribute_values_accepted(catalog: Catalog, value: str) -> None:
    assert version_in(catalog, DRAFT, attributes={"k": value}).attributes == {"k": value}


def test_attributes_limited_to_3_kb_of_utf8_in_all(catalog: Catalog) -> None:
    catalog.create_package("p", now=0)
    # Keys count too: 2 keys of 1 byte + values totalling 3070 bytes = 3072 bytes.
    catalog.create_version("p", "ok", now=0, attributes={"a": "x" * 1535, "b": "y" * 1535})
    with aws_error(VALIDATION):
        catalog.create_version("p", "big", now=0, attributes={"a": "x" * 1536, "b": "y" * 1535})
    # "é" is 2 bytes in UTF-8: 1 + 2 * 1536 bytes, though only 1537 characters.
    with aws_error(VALIDATION):
        catalog.create_version("p", "wide", now=0, attributes={"k": "é" * 1536})
    assert [v.name for v in catalog.list_versions("p")[0]] == ["ok"]
