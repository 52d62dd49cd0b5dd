"""The substitution rules one by one (reference: shared/reference/aws-iot.md, section 1).

Documented messages are asserted verbatim; where AWS documents no message only the error type and
status are. Refusals are checked on both compile paths: as written (the fast path for plain
package placeholders) and with a literal ``${HOME}`` string added, which takes the general path.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog, S3Location, VersionAction
from simulator.core.errors import DocumentError
from simulator.core.substitution import (
    JobDocument,
    PresignConfig,
    SubstitutionOptions,
    prepare_job_document,
)

SCOPE = Scope(region="us-west-2", account="123456789012")
ROLE = PresignConfig("arn:aws:iam::123456789012:role/JobsPresign")
P = "samplePackage"
PV = f"{P}:version:2.1.5"
ARN = "arn:aws:iot:us-west-2:123456789012:package/{}/version/{}"
SAMPLE = ARN.format(P, "2.1.5")
ATTRS = {
    "s3URL": "https://examplebucket.s3.us-west-2.amazonaws.com/dir/code.bin",
    "eastURL": "https://examplebucket.s3.us-east-1.amazonaws.com/code.bin",
    "signature": 'sig "quoted" \\ é 😀',
    "install:path": "/opt/sample",
    "artifact": "an attribute named artifact",
    "x:attributes": "an attribute whose key ends in :attributes",
}
OLD_ATTRS = {"s3URL": "https://examplebucket.s3.us-west-2.amazonaws.com/old.bin"}

MSG_UNTERMINATED = "One or more parameters or placeholders are not terminated."
MSG_ALL = (
    "The package version attribute placeholder for all attributes has to be a json value by "
    "itself and not appended with other strings or nested with other placeholders."
)
MSG_ARTIFACT_NESTED = (
    "${aws:iot:package:[...]:artifact:s3-presigned-url} cannot be nested inside another "
    "placeholder."
)
MSG_MULTIPLE = (
    "Cannot resolve empty package name and version name given multiple elements in destination "
    "package versions."
)
MSG_PAIR = "Empty package name and version name have to be used in pair."
MSG_NULL = "$null is not allowed to be referenced as a package version in job documents."
MSG_ROLE = (
    "presignedUrlConfig role ARN is required to generate an S3 presigned url in job document."
)
MSG_UPLOAD_BUCKET = (
    "S3 bucket name in presigned url upload is not allowed to contain any placeholders"
)


def build_catalog() -> Catalog:
    catalog = Catalog(SCOPE)
    for name in (P, "otherPackage", *(f"bulk-{i:02}" for i in range(25))):
        catalog.create_package(name, now=0.0)
        catalog.create_version(name, "1.0", now=0.0, attributes={"k": f"{name}-1.0"})
        catalog.update_version(name, "1.0", now=0.0, action=VersionAction.PUBLISH)
    artifact = S3Location("examplebucket", "samplePackage/2.1.5/code.zip", "v1")
    catalog.create_version(P, "2.1.5", now=0.0, attributes=ATTRS, artifact=artifact)
    catalog.create_version(P, "2.0.0", now=0.0, attributes=OLD_ATTRS)
    catalog.create_version(P, "3.0.0-beta", now=0.0, attributes={"k": "draft"})
    for version, actions in (("2.1.5", ["PUBLISH"]), ("2.0.0", ["PUBLISH", "DEPRECATE"])):
        for action in actions:
            catalog.update_version(P, version, now=0.0, action=VersionAction(action))
    catalog.update_package(P, now=0.0, default_version="2.1.5")
    return catalog


@pytest.fixture
def catalog() -> Catalog:
    return build_catalog()


def prepare(
    catalog: Catalog, document: Any, dpv: list[str] | None = None, **kw: Any
) -> JobDocument:
    text = document if isinstance(document, str | bytes) else json.dumps(document)
    return prepare_job_document(text, [SAMPLE] if dpv is None else dpv, catalog, scope=SCOPE, **kw)


def after(catalog: Catalog, document: Any, dpv: list[str] | None = None, **kw: Any) -> Any:
    return json.loads(prepare(catalog, document, dpv, **kw).after)


def refused(catalog: Catalog, document: Any, dpv: list[str] | None = None, **kw: Any) -> str:
    """Refuse ``document`` on both compile paths; return the (identical) message."""
    messages = set()
    raw = isinstance(document, str | bytes)
    variants = [document] if raw else [document, [document, "${HOME}"]]
    for variant in variants:
        with pytest.raises(DocumentError) as info:
            prepare(catalog, variant, dpv, **kw)
        options = kw.get("options") or SubstitutionOptions()
        assert info.value.error_type == options.error_type
        assert info.value.http_status == 400
        messages.add(info.value.message)
    assert len(messages) == 1, messages
    return messages.pop()


def ph(body: str) -> str:
    return "${aws:iot:" + body + "}"


# -- single and all attributes ------------------------------------------------------------------


def test_single_attributes_are_json_escaped_strings_and_keys_may_hold_colons(
    catalog: Catalog,
) -> None:
    doc = {
        "url": ph(f"package:{PV}:attributes:s3URL"),
        "mixed": f"sig=[{ph(f'package:{PV}:attributes:signature')}] ${{HOME}}",
        "path": ph(f"package:{PV}:attributes:install:path"),
        "odd": ph(f"package:{PV}:attributes:x:attributes"),
        ph(f"package:{PV}:attributes:artifact"): 1,
    }
    assert after(catalog, doc) == {
        "url": ATTRS["s3URL"],
        "mixed": f"sig=[{ATTRS['signature']}] ${{HOME}}",
        "path": "/opt/sample",
        "odd": ATTRS["x:attributes"],
        ATTRS["artifact"]: 1,
    }


def test_all_attributes_replace_the_whole_string_with_an_object(catalog: Catalog) -> None:
    whole = ph(f"package:{PV}:attributes")
    assert after(catalog, {"a": whole, "l": [1, whole]}) == {"a": ATTRS, "l": [1, ATTRS]}
    assert after(catalog, json.dumps(whole)) == ATTRS


def test_placeholder_spelled_with_json_escapes_is_still_a_placeholder(catalog: Catalog) -> None:
    text = '{"u": "${aws:iot:package:samplePackage:version:2.1.5:attributes:s3\\u0055RL}"}'
    assert after(catalog, text) == {"u": ATTRS["s3URL"]}


@pytest.mark.parametrize(
    "document",
    [
        {"a": "x" + ph(f"package:{PV}:attributes")},
        {"a": ph(f"package:{PV}:attributes") + " "},
        {"a": '"' + ph(f"package:{PV}:attributes")},
        {"a": ph(f"package:{PV}:attributes:s3URL") + ph(f"package:{PV}:attributes")},
        {ph(f"package:{PV}:attributes"): 1},
        {"a": ph(f"s3-presigned-url:{ph(f'package:{PV}:attributes')}")},
        {"a": ph(f"package:{PV}:attributes:{ph(f'package:{PV}:attributes')}")},
    ],
)
def test_all_attributes_must_be_a_json_value_by_itself(catalog: Catalog, document: Any) -> None:
    assert refused(catalog, document, presign=ROLE) == MSG_ALL


def test_missing_attribute_is_an_error_or_empty_by_option(catalog: Catalog) -> None:
    doc = {"a": "<" + ph(f"package:{PV}:attributes:nope") + ">"}
    wire = SubstitutionOptions(error_type="InvalidJobDocumentException")
    assert "nope" in refused(catalog, doc, options=wire)
    empty = SubstitutionOptions(missing_attribute="empty")
    assert after(catalog, doc, options=empty) == {"a": "<>"}


# -- empty pair, $default, $null ----------------------------------------------------------------


def test_empty_pair_takes_the_only_destination(catalog: Catalog) -> None:
    doc = {"u": ph("package::version::attributes:s3URL"), "all": ph("package::version::attributes")}
    assert after(catalog, doc) == {"u": ATTRS["s3URL"], "all": ATTRS}
    assert after(catalog, doc, [ARN.format(P, "$default")]) == {"u": ATTRS["s3URL"], "all": ATTRS}


@pytest.mark.parametrize(
    ("ref", "dpv", "message"),
    [
        ("package::version:", [SAMPLE, ARN.format("otherPackage", "1.0")], MSG_MULTIPLE),
        ("package::version:2.1.5", [SAMPLE], MSG_PAIR),
        (f"package:{P}:version:", [SAMPLE], MSG_PAIR),
    ],
)
def test_empty_pair_rules(catalog: Catalog, ref: str, dpv: list[str], message: str) -> None:
    assert refused(catalog, {"u": ph(f"{ref}:attributes:s3URL")}, dpv) == message


def test_default_is_resolved_at_creation_and_kept_in_the_before_forms(catalog: Catalog) -> None:
    default = ARN.format(P, "$default")
    doc = {"u": ph(f"package:{P}:version:$default:attributes:s3URL")}
    job = prepare(catalog, doc, [default])
    assert json.loads(job.after) == {"u": ATTRS["s3URL"]}
    assert job.destinations_before == (default,)
    assert job.destinations_after == (SAMPLE,)
    assert json.loads(job.before) == doc
    catalog.update_package(P, now=1.0, default_version="2.0.0")
    assert json.loads(job.after) == {"u": ATTRS["s3URL"]}  # stays fixed once created
    later = prepare(catalog, doc, [default])
    assert json.loads(later.after) == {"u": OLD_ATTRS["s3URL"]}
    assert later.destinations_after == (ARN.format(P, "2.0.0"),)


@pytest.mark.parametrize(
    ("package", "in_document", "in_destinations"),
    [
        (P, "$default", "2.1.5"),  # $default must be $default in both places
        (P, "2.1.5", "$default"),
        (P, "2.0.0", "2.1.5"),  # not among the destinations
        ("otherPackage", "$default", "$default"),  # no default version
    ],
)
def test_references_must_match_a_destination(
    catalog: Catalog, package: str, in_document: str, in_destinations: str
) -> None:
    key = "k" if package == "otherPackage" else "s3URL"  # an attribute both versions have
    doc = {"u": ph(f"package:{package}:version:{in_document}:attributes:{key}")}
    refused(catalog, doc, [ARN.format(package, in_destinations)])


def test_null_only_in_destinations(catalog: Catalog) -> None:
    uninstall = ARN.format("otherPackage", "$null")
    job = prepare(catalog, {"u": ph(f"package:{PV}:attributes:s3URL")}, [SAMPLE, uninstall])
    assert job.destinations_after == (SAMPLE, uninstall)
    doc = {"k": ph("package:otherPackage:version:$null:attributes:k")}
    assert refused(catalog, doc, [uninstall]) == MSG_NULL
    assert refused(catalog, doc, [SAMPLE]) == MSG_NULL  # refused as written, whatever the dPV
    assert refused(catalog, {"k": ph("package::version::attributes:k")}, [uninstall]) == MSG_NULL


# -- destinationPackageVersions -----------------------------------------------------------------


def test_destinations_may_hold_extras_up_to_25(catalog: Catalog) -> None:
    bulk = [ARN.format(f"bulk-{i:02}", "1.0") for i in range(25)]
    doc = {"k": ph("package:bulk-07:version:1.0:attributes:k")}
    assert after(catalog, doc, bulk) == {"k": "bulk-07-1.0"}
    refused(catalog, doc, [*bulk, SAMPLE])


@pytest.mark.parametrize(
    "dpv",
    [
        [ARN.format(P, "3.0.0-beta")],  # DRAFT
        [ARN.format(P, "9.9.9")],
        [ARN.format("noSuchPackage", "1.0")],
        [SAMPLE.replace("us-west-2", "eu-west-1")],
        [SAMPLE.replace("123456789012", "210987654321")],
        ["not an arn"],
        [SAMPLE, ARN.format(P, "2.0.0")],  # two versions of one package
    ],
)
def test_invalid_destinations_are_refused(catalog: Catalog, dpv: list[str]) -> None:
    refused(catalog, {"a": 1}, dpv)
    refused(catalog, {"a": 1}, dpv, options=SubstitutionOptions(error_type="InvalidJobDoc"))


def test_deprecated_versions_and_duplicates_by_option(catalog: Catalog) -> None:
    old = ARN.format(P, "2.0.0")
    assert after(catalog, {"u": ph(f"package:{P}:version:2.0.0:attributes:s3URL")}, [old]) == {
        "u": OLD_ATTRS["s3URL"]
    }
    both = SubstitutionOptions(allow_duplicate_packages=True)
    assert prepare(catalog, {}, [SAMPLE, old], options=both).destinations_after == (SAMPLE, old)


# -- termination and nesting --------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        {"a": "${aws:iot:package:" + PV + ":attributes:s3URL"},
        {"a": "${aws:iot:package:" + PV + ":attributes:s3URL", "b": "}"},
        {"a": "${aws:iot:s3-presigned-url:" + ph(f"package:{PV}:attributes:s3URL")},
        {"a": "x ${aws:"},
    ],
)
def test_unterminated_placeholders(catalog: Catalog, document: Any) -> None:
    assert refused(catalog, document, presign=ROLE) == MSG_UNTERMINATED


@pytest.mark.parametrize("form", ["s3-presigned-url", "s3-presigned-url-v2"])
def test_attribute_nested_in_an_s3_url_is_legal(catalog: Catalog, form: str) -> None:
    doc = {"u": ph(f"{form}:{ph(f'package:{PV}:attributes:s3URL')}")}
    job = prepare(catalog, doc, presign=ROLE)
    assert json.loads(job.after) == {"u": ph(f"{form}:{ATTRS['s3URL']}")}
    assert not job.fetch_template.is_static


@pytest.mark.parametrize("spelling", ["artifact", "artifact-location"])
@pytest.mark.parametrize("outer", ["s3-presigned-url:", "s3-presigned-url-v2:", f"package:{PV}:"])
def test_artifact_placeholder_cannot_be_nested(catalog: Catalog, spelling: str, outer: str) -> None:
    inner = ph(f"package:{PV}:{spelling}:s3-presigned-url")
    tail = "attributes:" if outer.startswith("package") else ""
    assert refused(catalog, {"u": ph(outer + tail + inner)}, presign=ROLE) == MSG_ARTIFACT_NESTED


@pytest.mark.parametrize("key", ["artifact", "x:attributes"])
def test_nested_attribute_keys_do_not_look_like_other_forms(catalog: Catalog, key: str) -> None:
    # Nested in a non-URL placeholder: refused, but an attribute *key* named like the artifact
    # or all-attributes forms does not earn their messages.
    doc = {"u": ph(f"package:{PV}:attributes:{ph(f'package:{PV}:attributes:{key}')}")}
    assert refused(catalog, doc) not in (MSG_ARTIFACT_NESTED, MSG_ALL)


@pytest.mark.parametrize(
    "inner", ["s3-presigned-url", "s3-presigned-url-v2", "s3-presigned-url-upload"]
)
def test_s3_url_forms_are_not_a_second_layer(catalog: Catalog, inner: str) -> None:
    doc = {"u": ph(f"s3-presigned-url:{ph(inner + ':https://examplebucket.s3.amazonaws.com/k')}")}
    message = refused(catalog, doc, presign=ROLE)
    match = re.fullmatch(
        r"\$\{aws:(.+)\[\.\.\.\]\} should not be the second layer pattern\.", message
    )
    assert match is not None and match[1].endswith(inner), message


# -- artifacts and presigned URLs ---------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["artifact", "artifact-location"])
def test_artifact_spellings_survive_phase_one_with_a_concrete_version(
    catalog: Catalog, spelling: str
) -> None:
    doc = {"u": ph(f"package:{P}:version:$default:{spelling}:s3-presigned-url")}
    job = prepare(catalog, doc, [ARN.format(P, "$default")], presign=ROLE)
    assert json.loads(job.after) == {"u": ph(f"package:{PV}:{spelling}:s3-presigned-url")}
    assert job.artifacts[(P, "2.1.5")].bucket == "examplebucket"


def test_version_without_artifact(catalog: Catalog) -> None:
    doc = {"u": ph(f"package:{P}:version:2.0.0:artifact-location:s3-presigned-url")}
    assert refused(catalog, doc, [ARN.format(P, "2.0.0")], presign=ROLE) == (
        "Package samplePackage version 2.0.0 does not have an associated artifact to generate an "
        "S3 presigned url."
    )


@pytest.mark.parametrize("presign", [None, PresignConfig(role_arn=None)])
def test_presigned_urls_need_a_role(catalog: Catalog, presign: PresignConfig | None) -> None:
    artifact = {"u": ph(f"package:{PV}:artifact:s3-presigned-url")}
    assert refused(catalog, artifact, presign=presign) == (
        MSG_ROLE[:-1] + " for package samplePackage version 2.1.5 artifact."
    )
    url = "https://examplebucket.s3.us-west-2.amazonaws.com/k"
    for form in ("s3-presigned-url", "s3-presigned-url-v2", "s3-presigned-url-upload"):
        assert refused(catalog, {"u": ph(f"{form}:{url}")}, presign=presign) == MSG_ROLE


def test_cross_region_urls_by_option(catalog: Catalog) -> None:
    east = {"u": ph(f"s3-presigned-url:{ph(f'package:{PV}:attributes:eastURL')}")}
    assert refused(catalog, east, presign=ROLE).startswith(
        "Cross region S3 bucket is not supported"
    )
    lax = SubstitutionOptions(check_region=False)
    assert not prepare(catalog, east, presign=ROLE, options=lax).fetch_template.is_static


# -- upload URLs and local placeholders ---------------------------------------------------------

UPLOAD = "s3-presigned-url-upload:https://s3.us-west-2.amazonaws.com/logs"


def test_upload_key_takes_up_to_two_of_each_local_placeholder(catalog: Catalog) -> None:
    key = "/${thingName}/${jobId}/${executionNumber}/${thingName}-${jobId}-${executionNumber}"
    job = prepare(catalog, {"u": ph(UPLOAD + key)}, presign=ROLE)
    assert json.loads(job.after) == {"u": ph(UPLOAD + key)}  # replaced per execution, later


@pytest.mark.parametrize("name", ["thingName", "jobId", "executionNumber"])
def test_upload_local_placeholder_limit(catalog: Catalog, name: str) -> None:
    message = refused(catalog, {"u": ph(UPLOAD + f"/${{{name}}}" * 3)}, presign=ROLE)
    assert re.fullmatch(
        rf"The occurrence of local placeholder (\$\{{{name}\}}|{name}) within S3 presigned url "
        r"upload placeholder exceeds limit of 2\.",
        message,
    ), message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://s3.us-west-2.amazonaws.com/logs-${thingName}/k", MSG_UPLOAD_BUCKET),
        ("https://s3-us-west-2.amazonaws.com/${thingName}/k", MSG_UPLOAD_BUCKET),
        ("https://${jobId}.s3.us-west-2.amazonaws.com/k", MSG_UPLOAD_BUCKET),
        (
            "https://s3.us-west-2.amazonaws.com/logs/${foo}",
            "Undefined placeholder, ${foo}, inside of presign url upload parameter",
        ),
    ],
)
def test_upload_url_refusals(catalog: Catalog, url: str, message: str) -> None:
    doc = {"u": ph(f"s3-presigned-url-upload:{url}")}
    assert refused(catalog, doc, presign=ROLE) == message


@pytest.mark.parametrize("bucket", ["s3-logs", "s3.logs", "logs"])
def test_upload_key_may_start_with_a_placeholder(catalog: Catalog, bucket: str) -> None:
    # Virtual-hosted: the first path segment is the key, even for a bucket named "s3-...".
    url = f"https://{bucket}.s3.us-west-2.amazonaws.com/${{thingName}}/out.log"
    prepare(catalog, {"u": ph(f"s3-presigned-url-upload:{url}")}, presign=ROLE)


@pytest.mark.parametrize(
    "text",
    [
        "run --thing ${thingName}",
        ph("s3-presigned-url:https://s3.us-west-2.amazonaws.com/logs/${jobId}"),
        ph("s3-presigned-url-v2:https://logs.s3.us-west-2.amazonaws.com/${jobId}"),
    ],
)
def test_local_placeholders_only_inside_upload_urls(catalog: Catalog, text: str) -> None:
    name = re.search(r"\$\{(thingName|jobId)\}", text)
    assert name is not None
    assert refused(catalog, {"u": text}, presign=ROLE) == (
        f"Local placeholder, ${{{name[1]}}}, is only valid inside of presign url upload"
    )


# -- literal text, options, before and after ----------------------------------------------------


def test_non_aws_dollar_braces_stay_literal(catalog: Catalog) -> None:
    text = json.dumps({"cmd": "echo ${HOME} ${PATH:-/bin} $USER ${ aws:x} ${awsx:y} {}"})
    job = prepare(catalog, text)
    assert job.after == job.before == text.encode()
    assert job.fetch_template.is_static


def test_document_parameters(catalog: Catalog) -> None:
    doc = {"p": "v=" + ph("parameter:my_param")}
    assert after(catalog, doc, parameters={"my_param": 'a"b'}) == {"p": 'v=a"b'}
    refused(catalog, doc)


def test_invalid_json_is_a_document_error(catalog: Catalog) -> None:
    refused(catalog, '{"a": ')
    refused(catalog, b"\xff")
