"""Property tests of the substitution core.

(a) Rendering: random JSON documents, serialised several ways, with random package placeholders
mixed into their strings, render exactly like a straightforward reference implementation (parse,
walk, ``re.sub``). (b) Robustness: malformed documents and destination lists only ever raise
:class:`FleetsimError` (the h11 fuzz invariant: parse it, or raise our error, never anything else).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog, S3Location, VersionAction
from simulator.core.errors import FleetsimError
from simulator.core.substitution import (
    Execution,
    PresignConfig,
    Presigner,
    SubstitutionOptions,
    compile_document,
    prepare_job_document,
    render_for_device,
)
from simulator.core.substitution.placeholders import AllAttributes
from tests.hypothesis_profiles import examples

SCOPE = Scope(region="us-west-2", account="123456789012")
ARN = "arn:aws:iot:us-west-2:123456789012:package/{}/version/{}"

# Attribute values exercise JSON escaping (quotes, backslashes, U+2028, non-ASCII, emoji) and
# placeholder-looking text, which must be inserted verbatim and never substituted again.
VERSIONS: dict[tuple[str, str], dict[str, str]] = {
    ("alpha", "1.0"): {
        "url": "https://alpha-bucket.s3.us-west-2.amazonaws.com/alpha/1.0.bin",
        "quote": 'say "hi" \\ back\\slash \\"',
        "install:path": "/opt/alpha",
        "attributes": "a key named attributes",
        "artifact-location:s3-presigned-url": "just an attribute",
    },
    ("alpha", "2.0"): {
        "url": "https://s3.us-west-2.amazonaws.com/alpha.bucket/2.0 bin",
        "unicode": "é ü 日本語 😀 \u2028\u2029 </script>",
    },
    ("beta.pkg", "v_3-x"): {
        "looks:like": "${aws:iot:package:alpha:version:1.0:attributes:url} ${HOME} }{",
        "x:attributes": "ends with attributes",
    },
    ("gamma", "0.1"): {"only": "gamma"},
}
DEFAULTS = {"alpha": "1.0", "beta.pkg": "v_3-x"}
DESTINATIONS = [
    ("alpha", "1.0"),
    ("alpha", "2.0"),
    ("alpha", "$default"),
    ("beta.pkg", "v_3-x"),
    ("beta.pkg", "$default"),
    ("gamma", "0.1"),
]


def build_catalog() -> Catalog:
    catalog = Catalog(SCOPE)
    for package in sorted({p for p, _ in VERSIONS}):
        catalog.create_package(package, now=0.0)
    for (package, version), attributes in VERSIONS.items():
        catalog.create_version(
            package,
            version,
            now=0.0,
            attributes=attributes,
            artifact=(
                S3Location("art-bucket", f"{package}/{version}.zip", "v+1/=")
                if version == "1.0"
                else None
            ),
        )
        catalog.update_version(package, version, now=0.0, action=VersionAction.PUBLISH)
    for package, version in DEFAULTS.items():
        catalog.update_package(package, now=0.0, default_version=version)
    return catalog


CATALOG = build_catalog()


def concrete(package: str, version: str) -> dict[str, str]:
    return VERSIONS[(package, DEFAULTS[package] if version == "$default" else version)]


# -- the reference implementation --------------------------------------------------------------

PLACEHOLDER = re.compile(r"\$\{aws:iot:package:([^:}]*):version:([^:}]*):attributes(?::([^}]*))?\}")


def reference(document: Any, destinations: list[tuple[str, str]]) -> Any:
    """Parse-walk-substitute, the obvious way."""

    def attributes(package: str, version: str) -> dict[str, str]:
        if not package:
            (package, version), *_ = destinations
        return concrete(package, version)

    def one(match: re.Match[str]) -> str:
        return attributes(match[1], match[2])[match[3]]

    def text(value: str) -> Any:
        whole = PLACEHOLDER.fullmatch(value)
        if whole is not None and whole[3] is None:
            return attributes(whole[1], whole[2])
        return PLACEHOLDER.sub(one, value)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {text(k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return text(value) if isinstance(value, str) else value

    return walk(document)


# -- strategies -----------------------------------------------------------------------------------

FRAGMENTS = ['"', "\\", "\\n", "\n", "\x00", "\x1f", "é", "😀", "\u2028", "${HOME}", "${", "}"]
FRAGMENTS += ["$", "{", "${not aws}", "${ aws:x}", "${aws}", "$\\{", "${awsx:y}", ":attributes}"]
LITERAL = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
    st.sampled_from(FRAGMENTS),
)
LOCAL = re.compile(r"\$\{(?:thingName|jobId|executionNumber)\}")

DUMPERS: list[Callable[[Any], bytes | str]] = [
    json.dumps,
    lambda d: json.dumps(d, ensure_ascii=False),
    lambda d: json.dumps(d, ensure_ascii=False, indent=2).encode(),
    lambda d: json.dumps(d, separators=(",", " : ")),
    orjson.dumps,
    lambda d: orjson.dumps(d, option=orjson.OPT_INDENT_2),
]


def mixed_strings(singles: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Literal text and single-attribute placeholders, with no accidental ``${aws:``."""
    parts = st.lists(st.one_of(LITERAL.map(lambda t: (t, 0)), singles.map(lambda p: (p, 1))))
    joined = parts.map(lambda ps: ("".join(t for t, _ in ps), sum(n for _, n in ps)))
    ok = joined.filter(lambda s: s[0].count("${aws:") == s[1] and not LOCAL.search(s[0]))
    return ok.map(lambda s: s[0])


@st.composite
def documents(draw: st.DrawFn) -> tuple[list[tuple[str, str]], Any, bytes | str]:
    dpv = draw(
        st.lists(st.sampled_from(DESTINATIONS), min_size=1, max_size=3, unique_by=lambda d: d[0])
    )
    refs = [*dpv, ("", "")] if len(dpv) == 1 else list(dpv)

    def keys(ref: tuple[str, str]) -> list[str]:
        return sorted(concrete(*(dpv[0] if not ref[0] else ref)))

    singles = st.sampled_from(refs).flatmap(
        lambda r: st.sampled_from(keys(r)).map(
            lambda k: f"${{aws:iot:package:{r[0]}:version:{r[1]}:attributes:{k}}}"
        )
    )
    whole = st.sampled_from(refs).map(
        lambda r: f"${{aws:iot:package:{r[0]}:version:{r[1]}:attributes}}"
    )
    text = mixed_strings(singles)
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
        whole,
    )
    doc = draw(
        st.recursive(
            scalars,
            lambda kids: st.lists(kids, max_size=4) | st.dictionaries(text, kids, max_size=4),
            max_leaves=10,
        )
    )
    return dpv, doc, draw(st.sampled_from(DUMPERS))(doc)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_render_matches_reference(case: tuple[list[tuple[str, str]], Any, bytes | str]) -> None:
    dpv, _, text = case
    destinations = [ARN.format(p, v) for p, v in dpv]
    result = prepare_job_document(text, destinations, CATALOG, scope=SCOPE)
    assert json.loads(result.after) == reference(json.loads(text), dpv)
    assert result.before == (text.encode() if isinstance(text, str) else text)
    assert result.fetch_template.is_static


@settings(max_examples=examples(80), deadline=None)
@given(documents(), st.sampled_from(["${HOME}", "", "$"]))
def test_document_without_placeholders_renders_byte_identical(
    case: tuple[list[tuple[str, str]], Any, bytes | str], filler: str
) -> None:
    # "${HOME}" keeps the general compile path busy; the other fillers may leave no "${" at all.
    text = case[2]
    raw = text.encode() if isinstance(text, str) else text
    static = PLACEHOLDER.sub(filler, raw.decode()).encode()
    assume(b"${aws:" not in static and not LOCAL.search(static.decode()))  # none formed anew
    template = compile_document(static)
    assert template.is_static
    assert template.render([]) == static


def encode_slot(slot: object, value: str) -> bytes:
    if isinstance(slot, AllAttributes):
        return orjson.dumps({"k": value, "n": [1, None]})
    return orjson.dumps(value)[1:-1]


@settings(max_examples=examples(80), deadline=None)
@given(documents(), st.lists(st.text(), min_size=1))
def test_template_render_is_valid_json(
    case: tuple[list[tuple[str, str]], Any, bytes | str], values: list[str]
) -> None:
    template = compile_document(case[2])
    encoded = [encode_slot(s, values[i % len(values)]) for i, s in enumerate(template.slots)]
    orjson.loads(template.render(encoded))


# -- (b) robustness --------------------------------------------------------------------------------

BROKEN = [
    "${aws:iot:package:", ":version:", "$null", ":attributes", ":attributes:url", "${aws:",
    "${aws:iot:s3-presigned-url:", "${aws:iot:s3-presigned-url-upload:", "${aws:iot:parameter:",
    "%3FversionId%3D", "?", "${thingName}", "${jobId}", "${executionNumber}", "${foo}", "${", "}",
    "}}", "::", ":", '"', "\\", "é", "😀", "${HOME}",
]  # fmt: skip
PACKAGES = st.sampled_from(["alpha", "beta.pkg", "gamma", "", "nope", "bad name", "$default"])
VERSION_NAMES = st.sampled_from(["1.0", "2.0", "v_3-x", "0.1", "", "$default", "$null", "9", "a/b"])
TAILS = [
    ":attributes",
    ":attributes:url",
    ":attributes:only",
    ":attributes:missing",
    ":attributes:",
]
TAILS += [":artifact:s3-presigned-url", ":artifact-location:s3-presigned-url", ":nope", ""]
URLS = [
    "https://bkt.s3.us-west-2.amazonaws.com/k", "https://s3.us-west-2.amazonaws.com/my.bkt/a b",
    "https://bkt.s3.us-east-1.amazonaws.com/k", "https://s3.amazonaws.com/bkt/k%3FversionId%3Dv%2B1",
    "https://bkt.s3.us-west-2.amazonaws.com/k?versionId=", "https://s3.us-west-2.amazonaws.com/bkt",
    "https://s3.us-west-2.amazonaws.com/bkt/${thingName}/${jobId}/${executionNumber}",
    "https://s3.us-west-2.amazonaws.com/${thingName}/k", "https://${jobId}.s3.amazonaws.com/k",
    "https://bkt.s3.amazonaws.com/${thingName}${thingName}${thingName}", "not a url", "",
]  # fmt: skip
PACKAGE_PLACEHOLDERS = st.builds(
    "${{aws:iot:package:{}:version:{}{}}}".format, PACKAGES, VERSION_NAMES, st.sampled_from(TAILS)
)
PLACEHOLDERS = st.recursive(
    PACKAGE_PLACEHOLDERS | st.sampled_from(URLS),
    lambda inner: st.builds(
        "${{aws:iot:{}:{}}}".format,
        st.sampled_from(["s3-presigned-url", "s3-presigned-url-v2", "s3-presigned-url-upload"]),
        inner,
    ),
    max_leaves=3,
)
BROKEN_TEXT = st.lists(
    st.one_of(PLACEHOLDERS, st.sampled_from(BROKEN), st.text(max_size=3)), max_size=5
).map("".join)
BROKEN_TREES = st.recursive(
    BROKEN_TEXT | st.integers(-(2**63), 2**63 - 1),
    lambda k: st.lists(k, max_size=3) | st.dictionaries(BROKEN_TEXT, k, max_size=3),
    max_leaves=6,
)
RAW_DOCS = st.one_of(
    st.text(),
    st.binary(),
    BROKEN_TEXT,
    st.tuples(BROKEN_TREES.map(json.dumps), st.integers(0, 80)).map(lambda t: t[0][: t[1]]),
)
# Three in four documents are valid JSON, so that most reach the placeholder grammar (a nested
# one_of would be flattened into equal branches).
BROKEN_DOCS = st.integers(0, 3).flatmap(
    lambda i: [
        BROKEN_TREES.map(json.dumps),
        BROKEN_TREES.map(lambda t: json.dumps(t, ensure_ascii=False)),
        BROKEN_TREES.map(orjson.dumps),
        RAW_DOCS,
    ][i]
)
ARN_PARTS = ["arn:aws:iot:us-west-2:123456789012:package/", "alpha", "gamma", "/version/", "1.0"]
ARN_PARTS += ["$default", "$null", "2.0", "nope", "arn:aws:iot:eu-west-1:123456789012:package/"]
DESTINATION_LISTS = st.one_of(
    st.lists(st.sampled_from(DESTINATIONS).map(lambda d: ARN.format(*d)), max_size=3),
    st.lists(
        st.one_of(
            st.sampled_from(DESTINATIONS).map(lambda d: ARN.format(*d)),
            st.lists(st.sampled_from(ARN_PARTS), max_size=5).map("".join),
            st.text(max_size=10),
        ),
        max_size=4,
    ),
)
OPTIONS = st.builds(
    SubstitutionOptions,
    error_type=st.sampled_from(["InvalidRequestException", "InvalidJobDocumentException"]),
    missing_attribute=st.sampled_from(["error", "empty"]),
    allow_duplicate_packages=st.booleans(),
    check_region=st.booleans(),
)
PRESIGNER = Presigner("AKIDEXAMPLE", "secret", region="us-west-2")


@settings(max_examples=examples(400), deadline=None)
@given(
    BROKEN_DOCS,
    DESTINATION_LISTS,
    OPTIONS,
    st.sampled_from([None, PresignConfig("arn:aws:iam::123456789012:role/x")]),
)
def test_malformed_input_raises_only_fleetsim_errors(
    document: bytes | str,
    destinations: list[str],
    options: SubstitutionOptions,
    presign: PresignConfig | None,
) -> None:
    try:
        result = prepare_job_document(
            document, destinations, CATALOG, scope=SCOPE, presign=presign, options=options
        )
        orjson.loads(result.after)
        rendered = render_for_device(
            result, Execution("thing-1", "job-1", 3), PRESIGNER, now=0.0, expires_in=60
        )
        orjson.loads(rendered)
    except FleetsimError as exc:
        assert getattr(exc, "http_status", 400) == 400
        assert getattr(exc, "error_type", options.error_type) == options.error_type
