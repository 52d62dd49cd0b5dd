"""Compile a JSON job document once into literal byte chunks and placeholder slots.

The compiled :class:`Template` is immutable. :meth:`Template.render` interleaves the chunks with
one pre-encoded value per slot and joins them, so rendering costs one ``bytes.join``: no parsing,
no walking, no escaping. Values of slots inside a JSON string are JSON-escaped string content
(without quotes); the value of an all-attributes slot is a whole JSON value that replaces the
quoted string, quotes included.

Compiling never walks the parsed document: the text is validated with orjson, then only the
string tokens that contain ``${`` are located (in valid JSON the last unescaped quote before a
``${`` opens its string) and split by :func:`.placeholders.scan`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, NamedTuple

import msgspec
import orjson

from simulator.core.errors import DocumentError
from simulator.core.substitution.placeholders import (
    MSG_ALL_ATTRIBUTES,
    MSG_NULL,
    MSG_PAIR,
    AllAttributes,
    ArtifactUrl,
    Attribute,
    PackageRef,
    Placeholder,
    S3Url,
    UploadUrl,
    scan,
)

__all__ = ["Compiler", "PlaceholderMemo", "Template", "compile_document"]

MSG_INVALID_JSON: Final = "The job document is not valid JSON."
_VALIDATOR: Final = msgspec.json.Decoder(msgspec.Raw)
_KEY_FOLLOWS: Final = re.compile(rb"[ \t\r\n]*:")


class Template(NamedTuple):
    """A compiled document: ``chunks[0] slot[0] chunks[1] ... slot[n-1] chunks[n]``.

    Immutable (a tuple). ``skeleton`` alternates the chunks with stand-ins for the slots; it is
    private to :meth:`render`, which copies it before filling in the values.
    """

    slots: tuple[Placeholder, ...]
    skeleton: list[bytes]

    @property
    def chunks(self) -> tuple[bytes, ...]:
        return tuple(self.skeleton[0::2])

    def render(self, values: Sequence[bytes], /) -> bytes:
        """Join the chunks with ``values`` (one encoded value per slot, in slot order)."""
        parts = self.skeleton.copy()
        parts[1::2] = values
        return b"".join(parts)

    def references(self) -> frozenset[PackageRef]:
        """Every package/version pair the document names, nested placeholders included."""
        refs: set[PackageRef] = set()
        for slot in self.slots:
            ref = _ref_of(slot)
            if ref is not None:
                refs.add(ref)
        return frozenset(refs)

    @property
    def is_static(self) -> bool:
        return not self.slots

    @classmethod
    def build(cls, chunks: Sequence[bytes], slots: Sequence[Placeholder]) -> Template:
        """A template from ``len(slots) + 1`` literal chunks and the slots between them."""
        if len(chunks) != len(slots) + 1:
            raise ValueError("a template needs exactly one more chunk than slots")
        skeleton = [b""] * (2 * len(chunks) - 1)
        skeleton[0::2] = chunks
        return cls(tuple(slots), skeleton)


def _ref_of(slot: Placeholder) -> PackageRef | None:
    if isinstance(slot, S3Url | UploadUrl):
        return slot.url.ref if isinstance(slot.url, Attribute) else None
    ref = getattr(slot, "ref", None)
    return ref if isinstance(ref, PackageRef) else None


def _escaped(raw: bytes, quote: int) -> bool:
    """True when the quote at ``raw[quote]`` is preceded by an odd number of backslashes."""
    n = 0
    i = quote - 1
    while i >= 0 and raw[i] == 0x5C:
        n += 1
        i -= 1
    return n % 2 == 1


def _string_bounds(raw: bytes, inside: int, floor: int) -> tuple[int, int]:
    """Opening and closing quote of the JSON string that contains ``raw[inside]``."""
    start = raw.rfind(b'"', floor, inside)
    while _escaped(raw, start):
        start = raw.rfind(b'"', floor, start)
    end = raw.find(b'"', inside)
    while _escaped(raw, end):
        end = raw.find(b'"', end + 1)
    return start, end


def _as_bytes(document: bytes | str) -> bytes:
    return document.encode() if isinstance(document, str) else bytes(document)


def compile_document(document: bytes | str, /, memo: PlaceholderMemo | None = None) -> Template:
    """Compile a job document (uncached; :class:`Compiler` caches whole documents).

    Args:
        document: the job document, JSON.
        memo: placeholders already parsed (by body), filled as new ones are found. Without one,
            every placeholder is parsed afresh (a cold compile).

    Raises:
        DocumentError: the document is not valid JSON, or a placeholder is malformed.
    """
    try:
        raw = document if type(document) is bytes else _as_bytes(document)
        # Validate without building the document: msgspec skips over the JSON checking its
        # syntax (4x faster than parsing it), and a strict UTF-8 decode covers what skipping does
        # not look at (invalid bytes, encoded surrogates inside strings).
        _VALIDATOR.decode(raw)
        raw.decode()
    except (msgspec.DecodeError, UnicodeError):
        raise DocumentError(MSG_INVALID_JSON) from None
    memo = PlaceholderMemo() if memo is None else memo
    pieces = _split(raw, memo.placeholders)
    if pieces is None:
        return _compile_general(raw)
    return _compile_simple(pieces, pieces[1::2], memo)


_PREFIX: Final = b"${aws:iot:package:"
_SIMPLE: Final = re.compile(
    rb"([A-Za-z0-9._-]{0,128}):version:(\$default|\$null|[A-Za-z0-9._-]{0,64})"
    rb":(attributes(?::[A-Za-z0-9:_-]+)?|artifact-location:s3-presigned-url|artifact:s3-presigned-url)"
)


def _split(raw: bytes, memo: dict[bytes, Placeholder]) -> list[bytes] | None:
    """``[literal, body, literal, body, ..., literal]`` when every ``${`` in the document opens a
    plain package placeholder (``body`` is what follows ``${aws:iot:package:`` up to ``}``);
    ``None`` when the general path must look (another placeholder form, or a malformed one).

    A plain placeholder holds no quote or backslash, so in valid JSON it lies inside one string
    token: the split needs no knowledge of where strings start and end. The work is C-level
    ``bytes.split`` plus one ``partition`` per placeholder.
    """
    parts = raw.split(_PREFIX)
    count = len(parts) - 1
    # Every `${` must open one of these. Counting `$` (one byte) is cheaper than counting `${`,
    # and equal counts prove it when no other `$` appears; otherwise count exactly.
    if raw.count(b"$") != count and raw.count(b"${") != count:
        return None
    pieces = [parts[0]]
    append = pieces.append
    for part in parts[1:]:
        body, brace, rest = part.partition(b"}")
        if not brace or (body not in memo and _SIMPLE.fullmatch(body) is None):
            return None
        append(body)
        append(rest)
    return pieces


class PlaceholderMemo:
    """Placeholder objects by their body bytes: fleets reuse a handful of placeholders across many
    documents, so most compiles find theirs here. Bounded; cleared whole when full. Owned by a
    :class:`Compiler` (or by a caller of :func:`compile_document`): there is no global one.
    """

    __slots__ = ("limit", "placeholders", "whole")

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.placeholders: dict[bytes, Placeholder] = {}
        #: The bodies that are all-attributes placeholders (they take the quotes around them).
        self.whole: set[bytes] = set()

    def __len__(self) -> int:
        return len(self.placeholders)


def _compile_simple(pieces: list[bytes], keys: list[bytes], known: PlaceholderMemo) -> Template:
    """``pieces`` alternate literal bytes and plain package placeholders (``keys``).

    The per-slot work is C-level (set difference, ``map``); Python code runs per *distinct*
    new placeholder and per all-attributes slot only.
    """
    memo, whole = known.placeholders, known.whole
    try:
        slots: list[Placeholder] = list(map(memo.__getitem__, keys))
    except KeyError:  # a placeholder seen for the first time
        if len(memo) > known.limit:
            memo.clear()
            whole.clear()
        for key in set(keys).difference(memo):
            slot = memo[key] = _parse_simple(key)
            if type(slot) is AllAttributes:
                whole.add(key)
        slots = list(map(memo.__getitem__, keys))
    if not whole.isdisjoint(keys):
        for key in whole.intersection(keys):
            index = -1
            for _ in range(keys.count(key)):
                index = keys.index(key, index + 1)
                _take_quotes(pieces, 2 * index)
    # ``pieces`` alternates chunk, key, chunk...: render overwrites the keys, so it is the skeleton.
    return Template(tuple(slots), pieces)


def _take_quotes(pieces: list[bytes], at: int) -> None:
    """Move the quotes around the all-attributes slot after ``pieces[at]`` into it, or refuse."""
    before, after = pieces[at], pieces[at + 2]
    escaped = before[-2:-1] == b"\\" and _escaped(before, len(before) - 1)
    whole = before[-1:] == b'"' and not escaped
    is_key = after[1:2] in _KEY_START and _KEY_FOLLOWS.match(after, 1) is not None
    if not whole or after[:1] != b'"' or is_key:
        raise DocumentError(MSG_ALL_ATTRIBUTES)
    pieces[at] = before[:-1]
    pieces[at + 2] = after[1:]


#: What may follow a string that is an object key: whitespace, then ``:``.
_KEY_START: Final = frozenset((b" ", b"\t", b"\r", b"\n", b":"))


def _parse_simple(body: bytes) -> Placeholder:
    """The placeholder of a plain package placeholder's body (already matched by ``_SIMPLE``)."""
    match = _SIMPLE.fullmatch(body)
    assert match is not None  # _split checked it
    package, version, tail = match.groups()
    if bool(package) != bool(version):
        raise DocumentError(MSG_PAIR)
    if version == b"$null":
        raise DocumentError(MSG_NULL)
    ref = PackageRef(package.decode(), version.decode())
    if tail == b"attributes":
        return AllAttributes(ref)
    if tail.startswith(b"attributes:"):
        return Attribute(ref, tail[11:].decode())
    return ArtifactUrl(ref, "artifact" if tail.startswith(b"artifact:") else "artifact-location")


def _compile_general(raw: bytes) -> Template:
    """Any document: locate each string that holds ``${`` and split it with :func:`scan`."""
    chunks: list[bytes] = []
    slots: list[Placeholder] = []
    pending: list[bytes] = []  # literal bytes accumulated since the last slot
    pos = 0
    hit = raw.find(b"${")
    while hit >= 0:
        start, end = _string_bounds(raw, hit, pos)
        token = raw[start : end + 1]
        escapes = b"\\" in token
        text: str = orjson.loads(token) if escapes else token[1:-1].decode()
        pieces = scan(text)
        if len(pieces) > 1:
            is_key = _KEY_FOLLOWS.match(raw, end + 1) is not None
            pending.append(raw[pos:start])
            if any(isinstance(p, AllAttributes) for p in pieces):
                if is_key or len(pieces) != 3 or pieces[0] or pieces[2]:
                    raise DocumentError(MSG_ALL_ATTRIBUTES)
                chunks.append(b"".join(pending))
                slots.append(pieces[1])  # type: ignore[arg-type]
                pending = []
            else:
                pending.append(b'"')
                for index, piece in enumerate(pieces):
                    if index % 2 == 0:
                        assert isinstance(piece, str)
                        pending.append(orjson.dumps(piece)[1:-1] if escapes else piece.encode())
                    else:
                        assert not isinstance(piece, str)
                        chunks.append(b"".join(pending))
                        slots.append(piece)
                        pending = []
                pending.append(b'"')
            pos = end + 1
        hit = raw.find(b"${", end + 1)
    pending.append(raw[pos:])
    chunks.append(b"".join(pending))
    return Template.build(chunks, slots)


class Compiler:
    """Compiles job documents and remembers them: a document shared by many jobs is compiled once.

    Holds the :class:`PlaceholderMemo` and the templates of the last ``max_templates`` distinct
    documents (templates are immutable, so sharing them is safe). Counters: :attr:`compiled`
    (documents actually compiled) and :attr:`hits` (compiles answered from the cache).
    """

    __slots__ = ("_templates", "compiled", "hits", "max_templates", "memo")

    def __init__(self, *, max_templates: int = 512, max_placeholders: int = 4096) -> None:
        self.max_templates = max_templates
        self.memo = PlaceholderMemo(max_placeholders)
        self._templates: dict[bytes, Template] = {}
        self.compiled = 0
        self.hits = 0

    def compile(self, document: bytes | str, /) -> Template:
        """The template of ``document``, compiled on first sight (see :func:`compile_document`).

        Raises:
            DocumentError: the document is not valid JSON, or a placeholder is malformed.
        """
        raw = document if type(document) is bytes else _as_bytes(document)
        templates = self._templates
        template = templates.get(raw)
        if template is not None:
            self.hits += 1
            # Least recently used goes first: move the hit to the end.
            del templates[raw]
            templates[raw] = template
            return template
        template = compile_document(raw, self.memo)
        self.compiled += 1
        if len(templates) >= self.max_templates:
            del templates[next(iter(templates))]
        templates[raw] = template
        return template
