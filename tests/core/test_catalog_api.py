"""Catalog rules around requests: default version, clientToken, quotas, configuration, paging."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.core.catalog import (
    Catalog,
    CatalogQuotas,
    PackageConfiguration,
    VersionAction,
    VersionStatus,
)
from tests.core.catalog_support import (
    CONFLICT,
    NOT_FOUND,
    QUOTA,
    TOKEN_A,
    TOKEN_B,
    VALIDATION,
    all_packages,
    aws_error,
    snapshot,
    version_in,
)

DRAFT, PUBLISHED, DEPRECATED = (
    VersionStatus.DRAFT,
    VersionStatus.PUBLISHED,
    VersionStatus.DEPRECATED,
)


@pytest.fixture
def catalog() -> Catalog:
    return Catalog()


# -- default version --------------------------------------------------------------------------


@pytest.mark.parametrize("state", [PUBLISHED, DEPRECATED])
def test_default_version_may_be_published_or_deprecated(
    catalog: Catalog, state: VersionStatus
) -> None:
    version_in(catalog, state)
    pkg = catalog.update_package("pkg", now=9, default_version="1.0.0")
    assert pkg.default_version == "1.0.0"
    assert catalog.default_version_of("pkg") == "1.0.0"
    assert pkg.modified == 9


def test_draft_cannot_be_the_default(catalog: Catalog) -> None:
    version_in(catalog, DRAFT)
    before = snapshot(catalog)
    with aws_error(CONFLICT):
        catalog.update_package("pkg", now=9, default_version="1.0.0", description="d")
    assert snapshot(catalog) == before


def test_missing_default_version_is_not_found(catalog: Catalog) -> None:
    version_in(catalog, PUBLISHED)
    before = snapshot(catalog)
    with aws_error(NOT_FOUND):
        catalog.update_package("pkg", now=9, default_version="2.0.0", description="d")
    with aws_error(NOT_FOUND):
        catalog.update_package("ghost", now=9, default_version="1.0.0")
    assert snapshot(catalog) == before


def test_default_and_unset_together_are_invalid(catalog: Catalog) -> None:
    version_in(catalog, PUBLISHED)
    catalog.update_package("pkg", now=1, default_version="1.0.0")
    before = snapshot(catalog)
    with aws_error(VALIDATION):
        catalog.update_package("pkg", now=9, default_version="1.0.0", unset_default_version=True)
    assert snapshot(catalog) == before


def test_default_is_never_chosen_automatically(catalog: Catalog) -> None:
    version_in(catalog, PUBLISHED)
    assert catalog.get_package("pkg").default_version is None
    catalog.update_package("pkg", now=1, default_version="1.0.0")
    version_in(catalog, PUBLISHED, name="2.0.0")
    catalog.update_version("pkg", "1.0.0", now=2, action=VersionAction.DEPRECATE)
    assert catalog.default_version_of("pkg") == "1.0.0"


def test_default_cannot_be_deleted_until_unset(catalog: Catalog) -> None:
    version_in(catalog, PUBLISHED)
    catalog.update_package("pkg", now=1, default_version="1.0.0")
    before = snapshot(catalog)
    with aws_error(VALIDATION):
        catalog.delete_version("pkg", "1.0.0")
    assert snapshot(catalog) == before
    catalog.update_package("pkg", now=2, unset_default_version=True)
    assert catalog.default_version_of("pkg") is None
    catalog.delete_version("pkg", "1.0.0")
    catalog.delete_package("pkg")
    assert not catalog.has_package("pkg")


def test_update_without_default_arguments_keeps_the_default(catalog: Catalog) -> None:
    version_in(catalog, PUBLISHED)
    catalog.update_package("pkg", now=1, default_version="1.0.0")
    assert catalog.update_package("pkg", now=2, description="d").default_version == "1.0.0"


# -- clientToken ------------------------------------------------------------------------------


def test_same_token_returns_the_same_package(catalog: Catalog) -> None:
    first = catalog.create_package("p", now=1, client_token=TOKEN_A)
    before = snapshot(catalog)
    assert catalog.create_package("p", now=2, client_token=TOKEN_A) is first
    assert snapshot(catalog) == before
    with aws_error(CONFLICT):
        catalog.create_package("p", now=3, client_token=TOKEN_B)
    with aws_error(CONFLICT):
        catalog.create_package("p", now=3)


def test_same_token_returns_the_same_version(catalog: Catalog) -> None:
    catalog.create_package("p", now=0)
    first = catalog.create_version("p", "1", now=1, attributes={"k": "v"}, client_token=TOKEN_A)
    catalog.update_version("p", "1", now=2, action=VersionAction.PUBLISH)
    before = snapshot(catalog)
    assert catalog.create_version("p", "1", now=3, client_token=TOKEN_A) is first
    assert snapshot(catalog) == before
    with aws_error(CONFLICT):
        catalog.create_version("p", "1", now=3, client_token=TOKEN_B)
    with aws_error(CONFLICT):
        catalog.create_version("p", "1", now=3)


def test_a_token_only_matches_a_resource_created_with_it(catalog: Catalog) -> None:
    catalog.create_package("p", now=0)
    with aws_error(CONFLICT):
        catalog.create_package("p", now=1, client_token=TOKEN_A)


@pytest.mark.parametrize(
    "token", ["t" * 36, "t" * 64, "0f8fad5b-d9cb-469f-a165-70867728950e", "!" * 40]
)
def test_token_pattern_accepted(catalog: Catalog, token: str) -> None:
    assert catalog.create_package("p", now=0, client_token=token).client_token == token
    assert catalog.create_version("p", "1", now=0, client_token=token).client_token == token


@pytest.mark.parametrize(
    "token", ["", "t" * 35, "t" * 65, "t" * 18 + " " + "t" * 17, "t" * 35 + "\n", "\t" * 36, 36]
)
def test_token_pattern_refused(catalog: Catalog, token: str) -> None:
    with aws_error(VALIDATION):
        catalog.create_package("p", now=0, client_token=token)
    catalog.create_package("p", now=0)
    with aws_error(VALIDATION):
        catalog.create_version("p", "1", now=0, client_token=token)
    with aws_error(VALIDATION):  # checked before the existing package is found
        catalog.create_package("p", now=0, client_token=token)
    assert [v.name for v in catalog.list_versions("p")[0]] == []


# -- quotas -----------------------------------------------------------------------------------


def test_package_quota() -> None:
    catalog = Catalog(quotas=CatalogQuotas(packages=2))
    catalog.create_package("a", now=0, client_token=TOKEN_A)
    catalog.create_package("b", now=0)
    before = snapshot(catalog)
    with aws_error(QUOTA):
        catalog.create_package("c", now=0)
    assert snapshot(catalog) == before
    # An idempotent retry is not a new package; a duplicate is still a conflict.
    assert catalog.create_package("a", now=1, client_token=TOKEN_A).name == "a"
    with aws_error(CONFLICT):
        catalog.create_package("b", now=1)
    catalog.delete_package("a")
    assert catalog.create_package("c", now=2).name == "c"


def test_version_quota_is_per_package() -> None:
    catalog = Catalog(quotas=CatalogQuotas(versions_per_package=2))
    catalog.create_package("p", now=0)
    catalog.create_package("q", now=0)
    catalog.create_version("p", "1", now=0, client_token=TOKEN_A)
    catalog.create_version("p", "2", now=0)
    before = snapshot(catalog)
    with aws_error(QUOTA):
        catalog.create_version("p", "3", now=0)
    assert snapshot(catalog) == before
    assert catalog.create_version("p", "1", now=1, client_token=TOKEN_A).name == "1"
    assert catalog.create_version("q", "3", now=0).name == "3"
    catalog.delete_version("p", "2")
    assert catalog.create_version("p", "3", now=2).name == "3"


# -- package configuration --------------------------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"


def test_configuration_starts_disabled(catalog: Catalog) -> None:
    assert catalog.configuration == PackageConfiguration(
        version_update_by_jobs=False, role_arn=None
    )


def test_configuration_updates_only_what_is_given(catalog: Catalog) -> None:
    catalog.update_configuration(enabled=True, role_arn=ROLE)
    assert catalog.configuration == PackageConfiguration(True, ROLE)
    catalog.update_configuration(enabled=False, role_arn=None)
    assert catalog.configuration == PackageConfiguration(False, ROLE)
    catalog.update_configuration(enabled=None, role_arn="r" * 20)
    assert catalog.configuration == PackageConfiguration(False, "r" * 20)
    catalog.update_configuration(enabled=None, role_arn="r" * 2048)
    assert catalog.configuration.role_arn == "r" * 2048


@pytest.mark.parametrize("role_arn", ["r" * 19, "r" * 2049, ""])
def test_configuration_role_arn_length(catalog: Catalog, role_arn: str) -> None:
    catalog.update_configuration(enabled=True, role_arn=ROLE)
    with aws_error(VALIDATION):
        catalog.update_configuration(enabled=False, role_arn=role_arn)
    assert catalog.configuration == PackageConfiguration(True, ROLE)


# -- pagination -------------------------------------------------------------------------------


def _pages(catalog: Catalog, size: int) -> list[list[str]]:
    out: list[list[str]] = []
    token: str | None = None
    while True:
        page, token = catalog.list_packages(max_results=size, next_token=token)
        out.append([p.name for p in page])
        if token is None:
            return out


def test_list_packages_pages_in_name_order(catalog: Catalog) -> None:
    for name in ["delta", "alpha", "echo", "charlie", "bravo"]:
        catalog.create_package(name, now=0)
    assert _pages(catalog, 2) == [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]
    assert _pages(catalog, 5) == [["alpha", "bravo", "charlie", "delta", "echo"]]
    assert catalog.list_packages()[1] is None


def test_list_versions_in_creation_order_with_status_filter(catalog: Catalog) -> None:
    catalog.create_package("p", now=0)
    for i, name in enumerate(["3.0", "1.0", "2.0", "0.1"]):
        catalog.create_version("p", name, now=10 + i)
    catalog.update_version("p", "1.0", now=20, action=VersionAction.PUBLISH)
    catalog.update_version("p", "0.1", now=20, action=VersionAction.PUBLISH)
    first, token = catalog.list_versions("p", max_results=3)
    assert [v.name for v in first] == ["3.0", "1.0", "2.0"]
    assert token is not None
    rest, end = catalog.list_versions("p", max_results=3, next_token=token)
    assert ([v.name for v in rest], end) == (["0.1"], None)
    published, _ = catalog.list_versions("p", status=PUBLISHED)
    assert [v.name for v in published] == ["1.0", "0.1"]
    assert catalog.list_versions("p", status=DEPRECATED) == ([], None)


def test_list_versions_of_a_missing_package_is_empty(catalog: Catalog) -> None:
    assert catalog.list_versions("ghost") == ([], None)
    with aws_error(VALIDATION):
        catalog.list_versions("bad name")


@pytest.mark.parametrize("size", [0, -1, 101])
def test_max_results_bounds(catalog: Catalog, size: int) -> None:
    catalog.create_package("p", now=0)
    with aws_error(VALIDATION):
        catalog.list_packages(max_results=size)
    with aws_error(VALIDATION):
        catalog.list_versions("p", max_results=size)


def test_max_results_of_100_is_allowed() -> None:
    catalog = Catalog()
    for i in range(101):
        catalog.create_package(f"p{i:03}", now=0)
    page, token = catalog.list_packages(max_results=100)
    assert len(page) == 100
    assert token is not None
    assert len(catalog.list_packages()[0]) == 100  # no maxResults: the largest page


BAD_TOKENS = [
    "garbage!",
    "====",
    base64.urlsafe_b64encode(b"x:1").decode(),
    base64.urlsafe_b64encode(b"o:-1").decode(),
    base64.urlsafe_b64encode(b"o:one").decode(),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "\ud800",
]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_bad_next_token(catalog: Catalog, token: str) -> None:
    catalog.create_package("p", now=0)
    with aws_error(VALIDATION):
        catalog.list_packages(next_token=token)
    with aws_error(VALIDATION):
        catalog.list_versions("p", next_token=token)


@given(st.integers(0, 30), st.integers(1, 100))
def test_pages_cover_every_package_once(count: int, size: int) -> None:
    catalog = Catalog()
    names = [f"p{i:02}" for i in range(count)]
    for name in reversed(names):
        catalog.create_package(name, now=0)
    pages = _pages(catalog, size)
    assert [n for page in pages for n in page] == names
    assert all(len(page) == size for page in pages[:-1])
    assert [p.name for p in all_packages(catalog)] == names
