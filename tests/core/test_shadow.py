"""Device Shadow rules: validation messages, merge, metadata, delta, versions, size, documents.

The last section holds the property tests: random update sequences against a reference model
written in "path space" (a tree flattened to ``{path: leaf}``), and the fuzz invariant that random
bytes give an update or an :class:`AwsError`, nothing else.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.errors import AwsError
from simulator.core.shadow import (
    ShadowOptions,
    ShadowStore,
    UpdateOutcome,
    check_shadow_name,
    check_thing_name,
    client_token_of,
    parse_update,
)
from tests.hypothesis_profiles import examples

NOW = 1_700_000_000.0
T = int(NOW)
BAD = ("InvalidRequestException", 400)
CONFLICT = ("ConflictException", 409)
NOT_FOUND = ("ResourceNotFoundException", 404)
TOO_LARGE = ("RequestEntityTooLargeException", 413)
ENCODING = ("UnsupportedDocumentEncodingException", 415)


def raw(doc: Any) -> bytes:
    return orjson.dumps(doc)


def update(
    store: ShadowStore,
    doc: Any,
    *,
    thing: str = "t",
    name: str | None = None,
    now: float = NOW,
) -> UpdateOutcome:
    request = parse_update(raw(doc), package=name == "$package")
    return store.update(thing, name, request, now=now)


def expect(error: tuple[str, int], message: str | None, fn: Any, *args: Any, **kw: Any) -> None:
    with pytest.raises(AwsError) as info:
        fn(*args, **kw)
    assert (info.value.error_type, info.value.http_status) == error, repr(info.value)
    if message is not None:
        assert info.value.message == message


def nest(levels: int) -> dict[str, Any]:
    """A section with ``levels`` levels of nesting, the section object counting as one."""
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        node = {"n": node}
    return node


@pytest.fixture
def store() -> ShadowStore:
    return ShadowStore()


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "Invalid JSON"),
        (b"{", "Invalid JSON"),
        (b'{"state": {}} x', "Invalid JSON"),
        (b"[1]", "Invalid JSON"),
        (b'"state"', "Invalid JSON"),
        (b"{}", "Missing required node: state"),
        (b'{"desired": {}}', "Missing required node: state"),
        (b'{"state": 1}', "State node must be an object"),
        (b'{"state": []}', "State node must be an object"),
        (b'{"state": "x"}', "State node must be an object"),
        (b'{"state": {"desired": 1}}', "Desired node must be an object"),
        (b'{"state": {"desired": [1]}}', "Desired node must be an object"),
        (b'{"state": {"reported": "on"}}', "Reported node must be an object"),
        (b'{"state": {"reported": true}}', "Reported node must be an object"),
        (b'{"state": {"delta": {"a": 1}}}', "State contains an invalid node"),
        (b'{"state": {"desired": {}, "metadata": {}}}', "State contains an invalid node"),
        (b'{"state": {"desired": {"a": [null, "RED"]}}}', "State contains an invalid node"),
        (b'{"state": {"reported": {"a": [[1, null]]}}}', "State contains an invalid node"),
        (b'{"state": {"reported": {"a": [{"b": null}]}}}', "State contains an invalid node"),
        (b'{"state": {}, "version": "1"}', "Invalid version"),
        (b'{"state": {}, "version": -1}', "Invalid version"),
        (b'{"state": {}, "version": 1.0}', "Invalid version"),
        (b'{"state": {}, "version": true}', "Invalid version"),
        (b'{"state": {}, "clientToken": 5}', "Invalid clientToken"),
        (raw({"state": {}, "clientToken": "x" * 65}), "Invalid clientToken"),
        (raw({"state": {}, "clientToken": "é" * 33}), "Invalid clientToken"),
        (b'{"state": {"reported": {"a\\u0000b": 1}}}', "State contains an invalid node"),
        (b'{"state": {"desired": {"\\u0000": 1}}}', "State contains an invalid node"),
        (b'{"state": {"desired": {"a": {"b\\u0000": {}}}}}', "State contains an invalid node"),
        (b'{"state": {"reported": {"a": [{"\\u0000": 1}]}}}', "State contains an invalid node"),
    ],
)
def test_invalid_requests_get_aws_messages(payload: bytes, message: str) -> None:
    expect(BAD, message, parse_update, payload)


def test_non_utf8_payload_is_415() -> None:
    msg = "Unsupported documented encoding; supported encoding is UTF-8"
    expect(ENCODING, msg, parse_update, b'{"state": {"reported": {"a": "\xff"}}}')


def test_nul_is_refused_only_in_keys() -> None:
    request = parse_update(b'{"state": {"reported": {"a": "x\\u0000y", "b": ["\\u0000"]}}}')
    assert request.state == {"reported": {"a": "x\x00y", "b": ["\x00"]}}


def test_client_token_limit_is_64_bytes() -> None:
    assert parse_update(raw({"state": {}, "clientToken": "é" * 32})).client_token == "é" * 32
    assert parse_update(raw({"state": {}, "clientToken": "x" * 64})).client_token == "x" * 64


@pytest.mark.parametrize("section", ["desired", "reported"])
def test_nesting_limit_is_six_levels(section: str) -> None:
    parse_update(raw({"state": {section: nest(6)}}))
    message = "JSON contains too many levels of nesting; maximum is 6"
    expect(BAD, message, parse_update, raw({"state": {section: nest(7)}}))
    # An array is a level too.
    parse_update(raw({"state": {section: {"a": {"b": {"c": {"d": {"e": [1]}}}}}}}))
    array_deep = {"state": {section: {"a": {"b": {"c": {"d": {"e": [[1]]}}}}}}}
    expect(BAD, message, parse_update, raw(array_deep))


def test_valid_requests_parse() -> None:
    request = parse_update(raw({"state": {"desired": {"a": None}}, "version": 3, "x": 1}))
    assert (request.state, request.version, request.client_token) == (
        {"desired": {"a": None}},
        3,
        None,
    )
    assert parse_update(b'{"state": null, "version": null}').state is None
    assert parse_update(b'{"state": {"desired": null}}').state == {"desired": None}


@pytest.mark.parametrize("section", ["desired", "reported"])
def test_package_entries_hold_only_version_and_attributes(section: str) -> None:
    ok = {"pkg": {"version": "1.0", "attributes": {"k": "v"}}, "other": None, "totalCount": 2}
    parse_update(raw({"state": {section: ok}}), package=True)
    bad = {"state": {section: {"pkg": {"version": "1.0", "description": "d"}}}}
    parse_update(raw(bad))  # an ordinary shadow accepts any key
    with pytest.raises(AwsError) as info:
        parse_update(raw(bad), package=True)
    assert (info.value.error_type, info.value.http_status) == BAD
    assert "'description'" in info.value.message and "'pkg'" in info.value.message


def test_names() -> None:
    assert check_thing_name("thing-1:a_b") == "thing-1:a_b"
    assert check_shadow_name("$package") == "$package"
    for bad in ("", "a/b", "a b", "x" * 129, "$x"):
        expect(BAD, None, check_thing_name, bad)
    for bad in ("", "a/b", "x" * 65, "a+b"):
        expect(BAD, None, check_shadow_name, bad)


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        (b"", None),
        (b"{", None),
        (b"[]", None),
        (b'{"clientToken": "abc"}', "abc"),
        (b'{"clientToken": "abc", "state": 5}', "abc"),
        (b'{"clientToken": 7}', None),
        (raw({"clientToken": "x" * 65}), None),
        (b"\xff", None),
    ],
)
def test_client_token_of_never_raises(payload: bytes, token: str | None) -> None:
    assert client_token_of(payload) == token


# -- merge ----------------------------------------------------------------------------------------


def test_update_merges_only_the_fields_sent(store: ShadowStore) -> None:
    update(store, {"state": {"desired": {"a": 1, "n": {"x": 1, "y": 2}}, "reported": {"a": 0}}})
    update(store, {"state": {"desired": {"n": {"y": 3, "z": 4}, "b": "new"}}})
    assert store.state("t", None) == {
        "desired": {"a": 1, "n": {"x": 1, "y": 3, "z": 4}, "b": "new"},
        "reported": {"a": 0},
        "delta": {"a": 1, "n": {"x": 1, "y": 3, "z": 4}, "b": "new"},
    }


def test_null_deletes_keys_and_emptied_objects(store: ShadowStore) -> None:
    update(store, {"state": {"reported": {"a": 1, "n": {"x": 1}, "keep": True}}})
    update(store, {"state": {"reported": {"a": None, "n": {"x": None}, "missing": None}}})
    assert store.state("t", None) == {"reported": {"keep": True}}
    assert store.get("t", None).reported_meta == {"keep": {"timestamp": T}}


def test_null_section_removes_it_and_null_state_clears(store: ShadowStore) -> None:
    update(store, {"state": {"desired": {"a": 1}, "reported": {"a": 2}}})
    update(store, {"state": {"desired": None, "reported": {"b": 1}}})
    assert store.state("t", None) == {"reported": {"a": 2, "b": 1}}
    out = update(store, {"state": None})
    assert store.state("t", None) == {}
    assert out.accepted == {"state": None, "version": 3, "timestamp": T}
    doc = store.document("t", None, now=NOW)
    assert doc == {"state": {}, "metadata": {}, "version": 3, "timestamp": T}


def test_arrays_are_replaced_whole(store: ShadowStore) -> None:
    update(store, {"state": {"desired": {"colors": ["RED", "GREEN", "BLUE"]}}})
    update(store, {"state": {"desired": {"colors": ["RED"]}}})
    assert store.state("t", None) == {"desired": {"colors": ["RED"]}, "delta": {"colors": ["RED"]}}


def test_values_change_kind(store: ShadowStore) -> None:
    update(store, {"state": {"reported": {"a": {"x": 1}, "b": 5}}})
    update(store, {"state": {"reported": {"a": 2, "b": {"y": 1}}}})
    assert store.state("t", None) == {"reported": {"a": 2, "b": {"y": 1}}}
    assert store.get("t", None).reported_meta == {
        "a": {"timestamp": T},
        "b": {"y": {"timestamp": T}},
    }


def test_empty_objects_are_not_stored(store: ShadowStore) -> None:
    update(store, {"state": {"reported": {"a": {}, "b": {"c": {}}, "d": 1}}})
    assert store.state("t", None) == {"reported": {"d": 1}}


# -- metadata -------------------------------------------------------------------------------


def test_metadata_per_leaf_keeps_older_timestamps(store: ShadowStore) -> None:
    update(store, {"state": {"desired": {"a": 1, "arr": [1, 2], "n": {"x": 1}}}}, now=NOW)
    update(store, {"state": {"desired": {"n": {"y": 2}}}}, now=NOW + 5)
    doc = store.document("t", None, now=NOW + 9)
    assert doc["metadata"] == {
        "desired": {
            "a": {"timestamp": T},
            "arr": {"timestamp": T},
            "n": {"x": {"timestamp": T}, "y": {"timestamp": T + 5}},
        }
    }
    assert doc["timestamp"] == T + 9


def test_timestamps_are_whole_seconds(store: ShadowStore) -> None:
    out = update(store, {"state": {"reported": {"a": 1}}}, now=NOW + 0.9)
    assert out.accepted["timestamp"] == T
    assert out.accepted["metadata"] == {"reported": {"a": {"timestamp": T}}}


# -- delta ----------------------------------------------------------------------------------


def test_delta_rules(store: ShadowStore) -> None:
    update(
        store,
        {
            "state": {
                "desired": {
                    "same": 1,
                    "differs": "RED",
                    "missing": True,
                    "lights": {"color": {"r": 255, "g": 255, "b": 255}},
                    "arr": [1, 2],
                    "int_vs_float": 1,
                    "bool_vs_int": True,
                    "obj_vs_leaf": {"x": 1},
                },
                "reported": {
                    "same": 1,
                    "differs": "GREEN",
                    "only_reported": 1,
                    "lights": {"color": {"r": 255, "g": 0, "b": 255}},
                    "arr": [1],
                    "int_vs_float": 1.0,
                    "bool_vs_int": 1,
                    "obj_vs_leaf": 3,
                },
            }
        },
    )
    assert store.state("t", None)["delta"] == {  # type: ignore[index]
        "differs": "RED",
        "missing": True,
        "lights": {"color": {"g": 255}},
        "arr": [1, 2],
        "int_vs_float": 1,
        "bool_vs_int": True,
        "obj_vs_leaf": {"x": 1},
    }


def test_no_delta_when_reported_matches(store: ShadowStore) -> None:
    out = update(
        store, {"state": {"desired": {"a": [1, {"b": 2}]}, "reported": {"a": [1, {"b": 2}]}}}
    )
    assert out.delta is None
    assert "delta" not in store.document("t", None, now=NOW)["state"]


def test_delta_document_holds_every_difference(store: ShadowStore) -> None:
    update(store, {"state": {"desired": {"a": 1, "n": {"x": 1}}}}, now=NOW)
    out = update(store, {"state": {"reported": {"b": 2}}, "clientToken": "tok"}, now=NOW + 1)
    assert out.delta == {
        "state": {"a": 1, "n": {"x": 1}},
        "metadata": {"a": {"timestamp": T}, "n": {"x": {"timestamp": T}}},
        "version": 2,
        "timestamp": T + 1,
        "clientToken": "tok",
    }
    out = update(store, {"state": {"reported": {"a": 1, "n": {"x": 1}}}})
    assert out.delta is None


def test_delta_only_when_desired_changes_option() -> None:
    store = ShadowStore(ShadowOptions(delta_only_when_desired_changes=True))
    assert update(store, {"state": {"desired": {"a": 1}}}).delta is not None
    assert update(store, {"state": {"reported": {"b": 1}}}).delta is None
    assert update(store, {"state": {"desired": {"c": 1}}}).delta is not None


def test_get_document(store: ShadowStore) -> None:
    update(store, {"state": {"desired": {"a": 1, "b": 2}, "reported": {"a": 1}}}, now=NOW)
    assert store.document("t", None, now=NOW + 3, client_token="c") == {
        "state": {"desired": {"a": 1, "b": 2}, "reported": {"a": 1}, "delta": {"b": 2}},
        "metadata": {
            "desired": {"a": {"timestamp": T}, "b": {"timestamp": T}},
            "reported": {"a": {"timestamp": T}},
        },
        "version": 1,
        "timestamp": T + 3,
        "clientToken": "c",
    }
    with_delta = ShadowStore(ShadowOptions(get_metadata_includes_delta=True))
    update(with_delta, {"state": {"desired": {"a": 1, "b": 2}, "reported": {"a": 1}}})
    meta = with_delta.document("t", None, now=NOW)["metadata"]
    assert meta["delta"] == {"b": {"timestamp": T}}


def test_missing_shadow_is_404(store: ShadowStore) -> None:
    expect(NOT_FOUND, "No shadow exists with name: 't'", store.document, "t", None, now=NOW)
    expect(NOT_FOUND, "No shadow exists with name: 'cfg'", store.delete, "t", "cfg", now=NOW)
    update(store, {"state": {}}, name="cfg")
    expect(NOT_FOUND, "No shadow exists with name: 't'", store.document, "t", None, now=NOW)
    assert store.state("t", None) is None


# -- versions -----------------------------------------------------------------------------------


def test_versions_start_at_one_and_count_updates(store: ShadowStore) -> None:
    assert [update(store, {"state": {}}).accepted["version"] for _ in range(3)] == [1, 2, 3]
    assert update(store, {"state": {}}, name="other").accepted["version"] == 1


def test_version_check(store: ShadowStore) -> None:
    update(store, {"state": {"desired": {"colors": ["RED"]}}})
    expect(
        CONFLICT, "Version conflict", update, store, {"state": {"desired": {"x": 1}}, "version": 9}
    )
    expect(
        CONFLICT, "Version conflict", update, store, {"state": {"desired": {"x": 1}}, "version": 0}
    )
    assert store.get("t", None).version == 1
    assert store.state("t", None) == {"desired": {"colors": ["RED"]}, "delta": {"colors": ["RED"]}}
    assert update(store, {"state": {"desired": {"x": 1}}, "version": 1}).accepted["version"] == 2
    assert update(store, {"state": {"desired": {"x": 2}}}).accepted["version"] == 3


def test_version_on_a_new_shadow(store: ShadowStore) -> None:
    expect(CONFLICT, "Version conflict", update, store, {"state": {}, "version": 1})
    assert store.find("t", None) is None
    assert update(store, {"state": {}, "version": 0}).accepted["version"] == 1


def test_delete_keeps_the_version_for_48_hours(store: ShadowStore) -> None:
    for _ in range(3):
        update(store, {"state": {"reported": {"a": 1}}})
    assert store.delete("t", None, now=NOW + 1) == {"version": 3, "timestamp": T + 1}
    assert store.find("t", None) is None
    expect(CONFLICT, "Version conflict", update, store, {"state": {}, "version": 0}, now=NOW + 2)
    out = update(store, {"state": {"reported": {"b": 1}}, "version": 3}, now=NOW + 2)
    assert out.accepted["version"] == 4
    assert out.documents["previous"] is None
    assert store.state("t", None) == {"reported": {"b": 1}}  # nothing of the old state survives
    store.delete("t", None, now=NOW + 10)
    assert update(store, {"state": {}}, now=NOW + 10 + 48 * 3600).accepted["version"] == 5
    store.delete("t", None, now=NOW + 20)
    assert update(store, {"state": {}}, now=NOW + 21 + 48 * 3600).accepted["version"] == 1


def test_version_reset_delay_is_an_option() -> None:
    store = ShadowStore(ShadowOptions(version_reset_after_s=10))
    update(store, {"state": {}})
    store.delete("t", None, now=NOW)
    assert update(store, {"state": {}}, now=NOW + 10).accepted["version"] == 2
    store.delete("t", None, now=NOW)
    assert update(store, {"state": {}}, now=NOW + 11).accepted["version"] == 1


def test_drop_thing_forgets_state_but_not_versions(store: ShadowStore) -> None:
    update(store, {"state": {}})
    update(store, {"state": {}}, name="a")
    update(store, {"state": {}}, name="a")
    update(store, {"state": {}}, thing="other")
    assert store.drop_thing("t", now=NOW) == [None, "a"]
    assert store.drop_thing("t", now=NOW) == []
    assert store.names("t") == [] and store.find("other", None) is not None
    assert update(store, {"state": {}}, name="a").accepted["version"] == 3


def test_names_are_named_shadows_sorted(store: ShadowStore) -> None:
    for name in ("b", None, "$package", "a"):
        update(store, {"state": {}}, name=name)
    store.delete("t", "b", now=NOW)
    assert store.names("t") == ["$package", "a"]
    assert store.names("nobody") == []


# -- size ------------------------------------------------------------------------------------------


def test_size_limit_counts_desired_plus_reported(store: ShadowStore) -> None:
    # {"a":"xxx…"} is 8 bytes plus the string: 4096 + 4096 bytes fit exactly.
    update(store, {"state": {"desired": {"a": "x" * 4088}}})
    update(store, {"state": {"reported": {"a": "x" * 4088}}})
    msg = "The payload exceeds the maximum size allowed"
    expect(TOO_LARGE, msg, update, store, {"state": {"reported": {"a": "x" * 4089}}})
    expect(TOO_LARGE, msg, update, store, {"state": {"reported": {"b": 1}}})
    assert store.get("t", None).version == 2
    # Metadata does not count: many short leaves fit although their metadata would not.
    many = {f"k{i}": 1 for i in range(800)}
    fresh = ShadowStore()
    update(fresh, {"state": {"reported": many}})
    assert len(orjson.dumps(fresh.document("t", None, now=NOW))) > 8 * 1024


# -- documents ---------------------------------------------------------------------------------


def test_accepted_echoes_only_what_was_sent(store: ShadowStore) -> None:
    update(store, {"state": {"desired": {"a": 1, "b": 1}, "reported": {"z": 0}}})
    out = update(
        store,
        {"state": {"desired": {"a": None, "n": {"x": [1]}}}, "clientToken": "ct", "extra": 1},
        now=NOW + 1,
    )
    assert out.accepted == {
        "state": {"desired": {"a": None, "n": {"x": [1]}}},
        "metadata": {"desired": {"a": {"timestamp": T + 1}, "n": {"x": {"timestamp": T + 1}}}},
        "version": 2,
        "timestamp": T + 1,
        "clientToken": "ct",
    }
    out = update(store, {"state": {"reported": None}})
    assert out.accepted["metadata"] == {"reported": {"timestamp": T}}
    assert "clientToken" not in out.accepted


def test_documents_show_previous_and_current(store: ShadowStore) -> None:
    first = update(store, {"state": {"reported": {"a": 1}}, "clientToken": "c1"}, now=NOW)
    assert first.documents == {
        "previous": None,
        "current": {
            "state": {"reported": {"a": 1}},
            "metadata": {"reported": {"a": {"timestamp": T}}},
            "version": 1,
        },
        "timestamp": T,
        "clientToken": "c1",
    }
    snapshot = orjson.dumps(first.documents)
    second = update(store, {"state": {"desired": {"a": 2}, "reported": {"a": None}}}, now=NOW + 1)
    assert second.documents["previous"] == first.documents["current"]
    assert second.documents["current"] == {
        "state": {"desired": {"a": 2}},
        "metadata": {"desired": {"a": {"timestamp": T + 1}}},
        "version": 2,
    }
    assert "clientToken" not in second.documents
    assert orjson.dumps(first.documents) == snapshot  # stored trees are never mutated in place


def test_package_shadow_has_no_metadata(store: ShadowStore) -> None:
    out = update(store, {"state": {"desired": {"p": {"version": "2"}}}}, name="$package")
    out = update(store, {"state": {"reported": {"p": {"version": "1"}}}}, name="$package")
    assert "metadata" not in out.accepted
    assert (
        "metadata" not in out.documents["current"] and "metadata" not in out.documents["previous"]
    )
    assert out.delta == {"state": {"p": {"version": "2"}}, "version": 2, "timestamp": T}
    doc = store.document("t", "$package", now=NOW)
    assert doc == {
        "state": {
            "desired": {"p": {"version": "2"}},
            "reported": {"p": {"version": "1"}},
            "delta": {"p": {"version": "2"}},
        },
        "version": 2,
        "timestamp": T,
    }
    with_meta = ShadowStore(ShadowOptions(package_metadata=True))
    out = update(with_meta, {"state": {"reported": {"p": {"version": "1"}}}}, name="$package")
    assert out.accepted["metadata"] == {"reported": {"p": {"version": {"timestamp": T}}}}


# -- properties ---------------------------------------------------------------------------------

Path = tuple[str, ...]
KEYS = st.sampled_from(["a", "b"])
# Few, look-alike values so desired and reported often hold 1 / 1.0 / true at the same path.
SCALARS = st.sampled_from([True, False, 0, 1, 2, 0.0, 1.0, "x", "1"])
LEAVES = st.one_of(st.none(), SCALARS, st.lists(SCALARS, max_size=2))


def _values(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return LEAVES
    return st.one_of(LEAVES, st.dictionaries(KEYS, _values(depth - 1), max_size=3))


SECTION = st.dictionaries(KEYS, _values(3), max_size=2)
# Pairs set on both sides at once: Python-equal but JSON-different, equal, and different.
PAIRS = st.sampled_from(
    [(True, 1), (1, 1.0), (0, False), ([1], [True]), ([1], [1]), ("x", "x"), (1, 2), ("x", "1")]
)
STATES = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {}, optional={"desired": st.none() | SECTION, "reported": st.none() | SECTION}
    ),
    st.builds(lambda k, p: {"desired": {k: p[0]}, "reported": {k: p[1]}}, KEYS, PAIRS),
)
STEPS = st.lists(
    st.tuples(STATES, st.sampled_from(["none", "right", "wrong"]), st.booleans()), max_size=12
)


def flatten(tree: dict[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    out: dict[Path, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def _walk(tree: dict[str, Any], prefix: Path = ()) -> list[tuple[Path, Any]]:
    out: list[tuple[Path, Any]] = []
    for key, value in tree.items():
        out.append(((*prefix, key), value))
        if isinstance(value, dict):
            out.extend(_walk(value, (*prefix, key)))
    return out


def reference_merge(
    flat: dict[Path, Any], patch: dict[str, Any]
) -> tuple[dict[Path, Any], set[Path]]:
    """Merge in path space; returns the new leaves and the paths the patch wrote.

    A null or a leaf in the patch removes everything at and below its path; an object in the
    patch displaces a leaf at its own path; then the patch's leaves are added. Objects left
    without leaves simply have no paths, which is the "empty objects are not stored" rule.
    """
    nodes = _walk(patch)
    replaced = {path for path, value in nodes if not isinstance(value, dict)}
    objects = {path for path, value in nodes if isinstance(value, dict)}
    out = {
        path: value
        for path, value in flat.items()
        if path not in objects and not any(path[:i] in replaced for i in range(1, len(path) + 1))
    }
    leaves = {p: v for p, v in nodes if v is not None and not isinstance(v, dict)}
    out.update(leaves)
    return out, set(leaves)


def reference_delta(desired: dict[Path, Any], reported: dict[Path, Any]) -> dict[Path, Any]:
    return {
        path: value
        for path, value in desired.items()
        if path not in reported or orjson.dumps(reported[path]) != orjson.dumps(value)
    }


@settings(max_examples=examples(300), deadline=None)
@given(STEPS)
def test_random_updates_match_the_reference_model(steps: list[tuple[Any, str, bool]]) -> None:
    # Each request goes to a classic shadow (with metadata) and to $package (without), which
    # take the two merge paths; both must follow the same model.
    store = ShadowStore()
    model: dict[str, dict[Path, Any]] = {"desired": {}, "reported": {}}
    stamps: dict[str, dict[Path, int]] = {"desired": {}, "reported": {}}
    version = 0
    for step, (state, version_mode, with_token) in enumerate(steps):
        now = NOW + step
        doc: dict[str, Any] = {"state": state}
        if version_mode != "none":
            doc["version"] = version if version_mode == "right" else version + 1
        if with_token:
            doc["clientToken"] = f"tok{step}"
        request = parse_update(raw(doc))
        if version_mode == "wrong":
            for name in (None, "$package"):
                expect(CONFLICT, "Version conflict", store.update, "t", name, request, now=now)
            continue
        outcomes = {name: store.update("t", name, request, now=now) for name in (None, "$package")}
        version += 1
        for section in ("desired", "reported"):
            if state is None or (section in state and state[section] is None):
                model[section], stamps[section] = {}, {}
            elif section in state:
                model[section], touched = reference_merge(model[section], state[section])
                stamps[section] = {
                    p: (int(now) if p in touched else stamps[section][p]) for p in model[section]
                }
        expected_delta = reference_delta(model["desired"], model["reported"])
        for name, out in outcomes.items():
            assert out.accepted["version"] == version
            assert out.accepted.get("clientToken") == doc.get("clientToken")
            shadow = store.get("t", name)
            assert shadow.version == version
            assert flatten(shadow.desired) == model["desired"]
            assert flatten(shadow.reported) == model["reported"]
            state_now = store.state("t", name)
            assert state_now is not None
            assert flatten(state_now.get("delta", {})) == expected_delta
            assert (out.delta is None) == (not expected_delta)
            if out.delta is not None:
                assert flatten(out.delta["state"]) == expected_delta
        classic = store.get("t", None)
        meta = {s: flatten(getattr(classic, f"{s}_meta")) for s in ("desired", "reported")}
        assert meta == {s: {(*p, "timestamp"): t for p, t in stamps[s].items()} for s in stamps}
        delta_doc = outcomes[None].delta
        if delta_doc is not None:
            assert flatten(delta_doc["metadata"]) == {
                (*p, "timestamp"): stamps["desired"][p] for p in expected_delta
            }


@settings(max_examples=examples(500), deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_give_an_update_or_an_aws_error(payload: bytes) -> None:
    store = ShadowStore()
    with contextlib.suppress(AwsError):
        store.update("t", None, parse_update(payload, package=True), now=NOW)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=examples(300), deadline=None)
@given(st.dictionaries(st.sampled_from(["state", "version", "clientToken", "x"]), JSON))
def test_random_documents_give_an_update_or_an_aws_error(doc: dict[str, Any]) -> None:
    store = ShadowStore()
    for name in (None, "$package"):
        with contextlib.suppress(AwsError):
            payload = json.dumps(doc).encode()
            store.update("t", name, parse_update(payload, package=name is not None), now=NOW)
