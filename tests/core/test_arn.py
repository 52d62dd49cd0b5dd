"""Package and package-version ARNs: parse, format, and refuse anything else with 400."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from simulator.core.arn import (
    DEFAULT_VERSION,
    NULL_VERSION,
    PackageVersionArn,
    Scope,
    package_arn,
    parse_package_version_arn,
)
from simulator.core.errors import ValidationException

SAMPLE = "arn:aws:iot:us-west-2:123456789012:package/samplePackage/version/2.1.5"


def test_parse_names_every_part() -> None:
    arn = parse_package_version_arn(SAMPLE)
    assert arn.scope == Scope(region="us-west-2", account="123456789012", partition="aws")
    assert (arn.package, arn.version) == ("samplePackage", "2.1.5")
    assert not arn.is_default
    assert not arn.is_null
    assert str(arn) == SAMPLE


@pytest.mark.parametrize(
    ("version", "is_default", "is_null"),
    [("$default", True, False), ("$null", False, True)],
)
def test_pseudo_versions_parse_and_round_trip(
    version: str, is_default: bool, is_null: bool
) -> None:
    text = f"arn:aws:iot:eu-west-1:000000000000:package/my_pkg-1.0/version/{version}"
    arn = parse_package_version_arn(text)
    assert arn.version == version
    assert (arn.is_default, arn.is_null) == (is_default, is_null)
    assert str(arn) == text


def test_pseudo_version_constants_are_the_documented_strings() -> None:
    assert (DEFAULT_VERSION, NULL_VERSION) == ("$default", "$null")


def test_with_version_resolves_default_to_a_concrete_version() -> None:
    arn = parse_package_version_arn(SAMPLE.replace("2.1.5", "$default"))
    resolved = arn.with_version("2.1.5")
    assert str(resolved) == SAMPLE
    assert not resolved.is_default
    assert arn.is_default  # the original is frozen, not changed


@pytest.mark.parametrize(
    ("partition", "region"),
    [
        ("aws", "us-east-1"),
        ("aws-cn", "cn-north-1"),
        ("aws-us-gov", "us-gov-west-1"),
        ("aws-iso", "us-iso-east-1"),
        ("aws", "ap-southeast-2"),
    ],
)
def test_other_partitions_and_regions(partition: str, region: str) -> None:
    text = f"arn:{partition}:iot:{region}:210987654321:package/p/version/v1"
    arn = parse_package_version_arn(text)
    assert (arn.scope.partition, arn.scope.region, arn.scope.account) == (
        partition,
        region,
        "210987654321",
    )
    assert str(arn) == text


def test_package_arn_and_scope_format() -> None:
    scope = Scope(region="cn-north-1", account="111122223333", partition="aws-cn")
    assert package_arn(scope, "p") == "arn:aws-cn:iot:cn-north-1:111122223333:package/p"
    assert scope.arn("role/r", service="iam") == "arn:aws-cn:iam:cn-north-1:111122223333:role/r"
    assert package_arn(Scope(), "p") == "arn:aws:iot:us-east-1:123456789012:package/p"


def test_name_length_limits() -> None:
    base = "arn:aws:iot:us-east-1:123456789012:package/{}/version/{}"
    assert parse_package_version_arn(base.format("p" * 128, "v" * 64)).package == "p" * 128
    with pytest.raises(ValidationException):
        parse_package_version_arn(base.format("p" * 129, "v"))
    with pytest.raises(ValidationException):
        parse_package_version_arn(base.format("p", "v" * 65))


MALFORMED = [
    "",
    "arn",
    "arn:aws:iot:us-east-1:123456789012:package/p",  # a package ARN, not a version ARN
    "arn:aws:iot:us-east-1:123456789012:package/p/version/",
    "arn:aws:iot:us-east-1:123456789012:package//version/1",
    "arn:aws:iot:us-east-1:123456789012:package/p/version/1/extra",
    "arn:aws:iot:us-east-1:123456789012:package/p/package/1",  # the doc typo
    "arn:aws:s3:us-east-1:123456789012:package/p/version/1",
    "arn:gcp:iot:us-east-1:123456789012:package/p/version/1",
    "arn:aws:iot::123456789012:package/p/version/1",
    "arn:aws:iot:US-EAST-1:123456789012:package/p/version/1",
    "arn:aws:iot:us-east-1:12345678901:package/p/version/1",
    "arn:aws:iot:us-east-1:1234567890123:package/p/version/1",
    "arn:aws:iot:us-east-1:12345678901a:package/p/version/1",
    "arn:aws:iot:us-east-1:١٢٣٤٥٦٧٨٩٠١٢:package/p/version/1",  # Arabic-Indic digits
    "arn:aws:iot:us-east-1:１２３４５６７８９０１２:package/p/version/1",  # fullwidth digits
    "arn:aws:iot:us-east-1:123456789012:package/p q/version/1",
    "arn:aws:iot:us-east-1:123456789012:package/p$/version/1",
    "arn:aws:iot:us-east-1:123456789012:package/$default/version/1",
    "arn:aws:iot:us-east-1:123456789012:package/p/version/$DEFAULT",
    "arn:aws:iot:us-east-1:123456789012:package/p/version/$latest",
    "arn:aws:iot:us-east-1:123456789012:package/p/version/1+build",
    "arn:aws:iot:us-east-1:123456789012:package/pä/version/1",
    f" {SAMPLE}",
    f"{SAMPLE}\n",
    SAMPLE.upper(),
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_arns_are_validation_errors(text: str) -> None:
    with pytest.raises(ValidationException) as info:
        parse_package_version_arn(text)
    assert (info.value.error_type, info.value.http_status) == ("ValidationException", 400)
    assert repr(text) in info.value.message


@pytest.mark.parametrize("value", [None, 42, b"arn:aws:iot:us-east-1:123456789012:package/p/v/1"])
def test_non_strings_are_validation_errors(value: object) -> None:
    with pytest.raises(ValidationException):
        parse_package_version_arn(value)  # type: ignore[arg-type]


# -- properties -------------------------------------------------------------------------------

NAME_CHARS = "abcXYZ019-_."
packages = st.text(NAME_CHARS, min_size=1, max_size=128)
versions = st.one_of(
    st.text(NAME_CHARS, min_size=1, max_size=64), st.sampled_from([DEFAULT_VERSION, NULL_VERSION])
)
scopes = st.builds(
    Scope,
    region=st.from_regex(r"[a-z]{2}(-[a-z]+)+-[0-9]", fullmatch=True),
    account=st.from_regex(r"[0-9]{12}", fullmatch=True),
    partition=st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
)
valid_arns = st.builds(PackageVersionArn, scopes, packages, versions)


@given(valid_arns)
def test_valid_arns_round_trip(arn: PackageVersionArn) -> None:
    text = str(arn)
    parsed = parse_package_version_arn(text)
    assert parsed == arn
    assert str(parsed) == text
    assert parsed.is_default == (arn.version == "$default")
    assert parsed.is_null == (arn.version == "$null")


def _check_parse(text: str) -> None:
    try:
        arn = parse_package_version_arn(text)
    except ValidationException as exc:
        assert (exc.error_type, exc.http_status) == ("ValidationException", 400)
    else:
        assert str(arn) == text


@given(st.text())
@example("arn:aws:iot:us-east-1:123456789012:package/p/version/")
def test_random_text_parses_or_raises_validation_only(text: str) -> None:
    _check_parse(text)


@given(valid_arns, st.integers(min_value=0), st.text(max_size=3), st.integers(0, 3))
def test_mutated_valid_arns_parse_or_raise_validation_only(
    arn: PackageVersionArn, where: int, insert: str, drop: int
) -> None:
    text = str(arn)
    i = where % (len(text) + 1)
    _check_parse(text[:i] + insert + text[i + drop :])
