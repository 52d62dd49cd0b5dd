"""Random sequences of catalog operations, with the catalog's invariants checked after each step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from simulator.core.arn import parse_package_version_arn
from simulator.core.catalog import Catalog, CatalogQuotas, S3Location, VersionAction, VersionStatus
from simulator.core.catalog.model import LIFECYCLE
from simulator.core.errors import AwsError
from tests.core.catalog_support import PATH_TO, TOKEN_A, TOKEN_B, all_packages, snapshot
from tests.hypothesis_profiles import examples

QUOTAS = CatalogQuotas(packages=2, versions_per_package=3)

T = TypeVar("T")


def mostly(valid: list[T], invalid: list[T]) -> st.SearchStrategy[T]:
    """Valid values four times as often as invalid ones, so that long valid chains happen."""
    return st.sampled_from(valid * 4 + invalid)


# Small pools so that operations collide and quotas are reached, each with values to refuse.
packages = mostly(["a", "a", "b", "c"], ["bad name"])
versions = mostly(["1", "2", "3", "4"], ["$default"])
tokens: st.SearchStrategy[str | None] = mostly([None, TOKEN_A, TOKEN_B], ["short"])
texts = st.none() | mostly(["", "text"], ["ctl\x07", "x" * 3073])
attributes = st.none() | st.dictionaries(
    mostly(["k", "k:x"], ["bad key"]), mostly(["v", "w"], ["", "x\n", "é" * 1600]), max_size=3
)
artifacts = st.none() | st.builds(S3Location, st.sampled_from(["b1", "b2"]), st.just("key"))
actions = st.sampled_from(VersionAction)


class CatalogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.catalog = Catalog(quotas=QUOTAS)
        self.now = 0.0
        # What must never change while the version exists: attributes once deployable, the
        # recipe once deployed. Recorded the first time the invariants see the version so.
        self.frozen_attributes: dict[tuple[str, str], dict[str, str]] = {}
        self.frozen_recipes: dict[tuple[str, str], str | None] = {}

    def apply(self, op: Callable[[], object], *, read_only: bool = False) -> bool:
        """Run ``op``; a refusal must be an AwsError and leave the catalog as it was."""
        self.now += 1
        before = snapshot(self.catalog)
        try:
            op()
        except AwsError as exc:
            assert exc.http_status in {400, 402, 404, 409}, repr(exc)
            assert snapshot(self.catalog) == before, f"refused with {exc!r} but changed"
            return False
        if read_only:
            assert snapshot(self.catalog) == before
        return True

    @initialize(state=st.sampled_from(VersionStatus), default=st.sampled_from(["1", None]))
    def seed(self, state: VersionStatus, default: str | None) -> None:
        """Package ``a``: version 1 PUBLISHED (maybe the default), version 2 in ``state``."""
        self.catalog.create_package("a", now=0)
        for name, path in (("1", PATH_TO[VersionStatus.PUBLISHED]), ("2", PATH_TO[state])):
            self.catalog.create_version("a", name, now=0, attributes={"k": name}, recipe="r")
            for action in path:
                self.catalog.update_version("a", name, now=0, action=action)
        self.catalog.update_package("a", now=0, default_version=default)

    # -- packages -------------------------------------------------------------------------------

    @rule(name=packages, token=tokens, description=texts)
    def create_package(self, name: str, token: str | None, description: str | None) -> None:
        self.apply(
            lambda: self.catalog.create_package(
                name, now=self.now, description=description, client_token=token
            )
        )

    @rule(name=packages, description=texts, default=st.none() | versions, unset=st.booleans())
    def update_package(
        self, name: str, description: str | None, default: str | None, unset: bool
    ) -> None:
        done = self.apply(
            lambda: self.catalog.update_package(
                name,
                now=self.now,
                description=description,
                default_version=default,
                unset_default_version=unset,
            )
        )
        if done and default is not None:
            assert self.catalog.default_version_of(name) == default
        if done and unset:
            assert self.catalog.default_version_of(name) is None

    @rule(package=packages, name=versions, package_too=mostly([False], [True]))
    def delete(self, package: str, name: str, package_too: bool) -> None:
        """DeletePackageVersion, then now and then DeletePackage."""
        was_default = self.catalog.default_version_of(package) == name
        if self.apply(lambda: self.catalog.delete_version(package, name)):
            assert not was_default, f"deleted the default version {name} of {package}"
            assert self.catalog.find_version(package, name) is None
        if not package_too:
            return
        had_versions = self.catalog.has_package(package) and bool(
            self.catalog.get_package(package).versions
        )
        if self.apply(lambda: self.catalog.delete_package(package)):
            assert not had_versions, f"deleted package {package} with versions"
            assert not self.catalog.has_package(package)

    # -- versions -------------------------------------------------------------------------------

    @rule(package=packages, name=versions, attrs=attributes, token=tokens, recipe=texts)
    def create_version(
        self,
        package: str,
        name: str,
        attrs: dict[str, str] | None,
        token: str | None,
        recipe: str | None,
    ) -> None:
        existed = self.catalog.find_version(package, name) is not None
        done = self.apply(
            lambda: self.catalog.create_version(
                package, name, now=self.now, attributes=attrs, recipe=recipe, client_token=token
            )
        )
        if done and not existed:
            assert self.catalog.get_version(package, name).status is VersionStatus.DRAFT

    def _update(
        self, package: str, name: str, action: VersionAction | None, **edits: object
    ) -> None:
        version = self.catalog.find_version(package, name)
        prior = None if version is None else version.status
        done = self.apply(
            lambda: self.catalog.update_version(
                package,
                name,
                now=self.now,
                action=action,
                **edits,  # type: ignore[arg-type]
            )
        )
        if done:
            assert version is not None
            assert prior is not None
            expected = prior if action is None else LIFECYCLE[prior, action]
            assert version.status is expected

    @rule(package=packages, name=versions, action=actions)
    def version_action(self, package: str, name: str, action: VersionAction) -> None:
        self._update(package, name, action)

    @rule(
        package=packages,
        name=versions,
        action=st.none() | actions,
        description=texts,
        attrs=attributes,
        artifact=artifacts,
        recipe=texts,
    )
    def edit_version(
        self,
        *,
        package: str,
        name: str,
        action: VersionAction | None,
        description: str | None,
        attrs: dict[str, str] | None,
        artifact: S3Location | None,
        recipe: str | None,
    ) -> None:
        self._update(
            package,
            name,
            action,
            description=description,
            attributes=attrs,
            artifact=artifact,
            recipe=recipe,
        )

    @rule(package=packages, name=versions)
    def mark_deployed(self, package: str, name: str) -> None:
        version = self.catalog.find_version(package, name)
        if version is not None and version.status.deployable:
            self.catalog.mark_deployed(package, name)
            assert version.deployed

    @rule(
        enabled=st.none() | st.booleans(),
        role_arn=st.none() | st.sampled_from(["r" * 19, "arn:aws:iam::123456789012:role/r"]),
    )
    def update_configuration(self, enabled: bool | None, role_arn: str | None) -> None:
        self.apply(lambda: self.catalog.update_configuration(enabled=enabled, role_arn=role_arn))

    @rule(package=packages, name=versions, size=st.integers(0, 4))
    def reads(self, package: str, name: str, size: int) -> None:
        self.apply(lambda: self.catalog.get_package(package), read_only=True)
        self.apply(lambda: self.catalog.get_version(package, name), read_only=True)
        self.apply(lambda: self.catalog.list_packages(max_results=size), read_only=True)
        self.apply(lambda: self.catalog.list_versions(package, max_results=size), read_only=True)

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def defaults_exist_and_are_deployable(self) -> None:
        for pkg in all_packages(self.catalog):
            if pkg.default_version is not None:
                default = pkg.versions.get(pkg.default_version)
                assert default is not None, f"{pkg.name}: default {pkg.default_version} is gone"
                assert default.status in (VersionStatus.PUBLISHED, VersionStatus.DEPRECATED)

    @invariant()
    def statuses_names_and_quotas(self) -> None:
        pkgs = all_packages(self.catalog)
        assert len(pkgs) <= QUOTAS.packages
        assert [p.name for p in pkgs] == sorted(p.name for p in pkgs)
        for pkg in pkgs:
            assert len(pkg.versions) <= QUOTAS.versions_per_package
            for name, version in pkg.versions.items():
                assert isinstance(version.status, VersionStatus)
                assert (version.package, version.name) == (pkg.name, name)
                arn = parse_package_version_arn(version.arn)
                assert (arn.package, arn.version) == (pkg.name, name)

    @invariant()
    def frozen_fields_never_change(self) -> None:
        seen: set[tuple[str, str]] = set()
        for pkg in all_packages(self.catalog):
            for version in pkg.versions.values():
                key = (pkg.name, version.name)
                seen.add(key)
                if version.status.deployable:
                    frozen = self.frozen_attributes.setdefault(key, dict(version.attributes))
                    assert version.attributes == frozen, f"{key}: attributes changed after publish"
                if version.deployed:
                    recipe = self.frozen_recipes.setdefault(key, version.recipe)
                    assert version.recipe == recipe, f"{key}: recipe changed after deployment"
        # A deleted version may come back as a new DRAFT with other attributes.
        for records in (self.frozen_attributes, self.frozen_recipes):
            for key in set(records) - seen:
                del records[key]


CatalogMachine.TestCase.settings = settings(
    max_examples=examples(150), stateful_step_count=40, deadline=None
)
TestCatalogMachine = CatalogMachine.TestCase
