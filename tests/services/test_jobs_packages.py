"""Jobs and the Software Package Catalog: substitution, $default, $null, recipes, $package."""

from __future__ import annotations

import orjson
import pytest

from simulator.core.errors import AwsError, ResourceNotFoundException
from tests.services.jobs_support import EXAMPLES, World, aws_error, example_catalog

SAMPLE_DOC = (EXAMPLES / "samplePackage-job.json").read_text()


@pytest.fixture
def w() -> World:
    world = World(catalog=example_catalog())
    world.thing("dev1")
    world.thing("dev2")
    return world


def test_sample_package_substitution(w: World) -> None:
    pv = w.pv_arn("samplePackage", "2.1.5")
    w.create("deploy", "dev1", document=SAMPLE_DOC, destination_package_versions=[pv])
    after = orjson.loads(w.jobs.get_job_document(job_id="deploy")["document"])
    assert after["steps"][0]["action"]["input"]["args"][0] == (
        "https://EXAMPIEBUCKET.s3.us-west-2.amazonaws.com/exampleCodeFile"
    )
    assert after["steps"][2]["action"]["input"]["args"][2] == "/opt/samplePackage"
    assert after["package"]["attributes"]["signature"].startswith("aaaaabbbbb")
    before = w.jobs.get_job_document(job_id="deploy", before_substitution=True)["document"]
    assert before == SAMPLE_DOC
    started = w.start_next("dev1")
    assert started is not None
    assert orjson.loads(started["jobDocument"]) == after
    assert w.catalog.get_version("samplePackage", "2.1.5").deployed


def test_default_version_resolved_at_creation(w: World) -> None:
    doc = '{"v": "${aws:iot:package:samplePackage:version:$default:attributes:signature}"}'
    w.create(
        "j",
        "dev1",
        document=doc,
        destination_package_versions=[w.pv_arn("samplePackage", "$default")],
    )
    assert w.job("j")["destinationPackageVersions"] == [w.pv_arn("samplePackage", "2.1.5")]
    before = w.jobs.describe_job(job_id="j", before_substitution=True)["job"]
    assert before["destinationPackageVersions"] == [w.pv_arn("samplePackage", "$default")]
    w.catalog.update_package("samplePackage", now=0.0, default_version="2.0.0")
    assert w.job("j")["destinationPackageVersions"] == [w.pv_arn("samplePackage", "2.1.5")]
    assert "aaaaabbbbb" in w.jobs.get_job_document(job_id="j")["document"]


def test_succeeded_execution_writes_package_shadow(w: World) -> None:
    w.create(
        "install",
        "dev1",
        "dev2",
        document='{"op": "install"}',
        destination_package_versions=[w.pv_arn("samplePackage", "2.1.5")],
    )
    w.finish("install", "dev1")
    w.finish("install", "dev2", "FAILED")
    shadow = w.package_shadow("dev1")
    assert shadow["state"]["reported"] == {"samplePackage": {"version": "2.1.5"}}
    assert shadow["version"] == 1
    with pytest.raises(ResourceNotFoundException):
        w.package_shadow("dev2")  # only SUCCEEDED executions write $package
    w.create(
        "uninstall",
        "dev1",
        document='{"op": "uninstall"}',
        destination_package_versions=[w.pv_arn("samplePackage", "$null")],
    )
    w.finish("uninstall", "dev1")
    shadow = w.package_shadow("dev1")
    assert "samplePackage" not in shadow["state"].get("reported", {})
    assert shadow["version"] == 2


def test_no_package_write_when_the_feature_is_off(w: World) -> None:
    w.catalog.update_configuration(enabled=False, role_arn=None)
    w.create(
        "j",
        "dev1",
        document="{}",
        destination_package_versions=[w.pv_arn("samplePackage", "2.1.5")],
    )
    w.finish("j", "dev1")
    with pytest.raises(ResourceNotFoundException):
        w.package_shadow("dev1")


def test_recipe_is_the_document(w: World) -> None:
    recipe = '{"recipe": "${aws:iot:package::version::attributes:signature}"}'
    w.catalog.update_version("samplePackage", "2.1.5", now=0.0, recipe=recipe)
    w.jobs.create_job(
        job_id="r",
        targets=[w.thing_arn("dev1")],
        destination_package_versions=[w.pv_arn("samplePackage", "2.1.5")],
    )
    document = orjson.loads(w.jobs.get_job_document(job_id="r")["document"])
    assert document["recipe"].startswith("aaaaabbbbb")
    with aws_error("InvalidRequestException", 400):  # 2.0.0 has no recipe
        w.jobs.create_job(
            job_id="none",
            targets=[w.thing_arn("dev1")],
            destination_package_versions=[w.pv_arn("samplePackage", "2.0.0")],
        )


@pytest.mark.parametrize(
    ("document", "destinations"),
    [
        (SAMPLE_DOC, []),  # referenced but not in destinationPackageVersions
        ('{"a": "x"}', ["samplePackage/2.2.0-beta"]),  # DRAFT cannot be deployed
        ('{"a": "x"}', ["samplePackage/9.9.9"]),
        (
            '{"a": "${aws:iot:package:samplePackage:version:$null:attributes}"}',
            ["samplePackage/$null"],
        ),
    ],
)
def test_substitution_errors_refuse_the_job(
    w: World, document: str, destinations: list[str]
) -> None:
    arns = [w.pv_arn(*d.split("/")) for d in destinations]
    with aws_error("InvalidRequestException", 400):
        w.create("bad", "dev1", document=document, destination_package_versions=arns)
    assert w.jobs.list_jobs()["jobs"] == []
    assert not w.catalog.get_version("samplePackage", "2.1.5").deployed


def _fill_package_shadow(w: World, thing: str) -> None:
    """Grow ``$package`` until one more package entry no longer fits its size limit."""
    size = 7000
    while True:
        payload = {"state": {"reported": {"other": {"attributes": {"blob": "x" * size}}}}}
        try:
            w.shadows.update_thing_shadow(
                thing_name=thing, shadow_name="$package", payload=orjson.dumps(payload)
            )
        except AwsError:
            return
        size += 16


def test_a_failed_package_write_does_not_fail_the_update(w: World) -> None:
    w.create(
        "j",
        "dev1",
        document="{}",
        destination_package_versions=[w.pv_arn("samplePackage", "2.1.5")],
    )
    w.start_next("dev1")
    _fill_package_shadow(w, "dev1")
    before = w.package_shadow("dev1")["version"]
    out = w.update("j", "dev1", "SUCCEEDED", include_job_execution_state=True)
    assert out["executionState"]["status"] == "SUCCEEDED"
    assert w.jobs.package_write_failures == 1
    assert w.package_shadow("dev1")["version"] == before
