"""The fleet-indexing aggregations: GetStatistics, GetCardinality, GetPercentiles and
GetBucketsAggregation.

Each selects things with the same compiled query as SearchIndex, reads the aggregation field's
values from the same cached index documents (:mod:`.aggfields` says which fields and how) and
computes over them with numpy (:mod:`.aggmath`). The work is O(matching things) and resumable:
``start_<op>`` returns an :class:`AggregationScan` that the HTTP layer steps a slice at a time
between other requests, exactly as SearchIndex's :class:`~.scan.SearchScan` (same reasons, see
:mod:`.scan`); ``<op>`` runs it in one pass (in-process callers, the run's version timeline). A
query of ``*`` over a plain registry, attribute or ``reported`` field reads values without
building documents (:func:`.aggfields.raw_reader`): same answer, a fraction of the cost.

Behaviour (developer guide "Querying for aggregate data"; API reference; botocore's model):

* GetStatistics: Number fields give count, average, sum, minimum, maximum, sumOfSquares,
  variance (population: the mean squared distance to the mean, as the guide's example) and
  stdDeviation; Boolean fields count, average (share of ``true``), sum, minimum and maximum
  (0 or 1); String fields the count only. ``count`` counts values of the right type. With no
  ``aggregationField``, ``registry.version``. A value beyond a double leaves only the count
  ("the statistics values are empty").
* GetCardinality: distinct values; AWS answers an approximation, this emulator the exact count.
  ``0`` when nothing matches.
* GetPercentiles: Number fields only (else InvalidAggregationException); default percents
  1, 5, 25, 50, 75, 95, 99; ``[]`` when nothing matches. AWS approximates (its example is not
  reproducible from exact ranks); this emulator interpolates linearly between exact ranks.
* GetBucketsAggregation: ``termsAggregation`` buckets, ``maxBuckets`` default 10 (the model: 1 to
  10,000), ordered by count descending (ties: by key, inf); ``totalCount`` is the number of
  things the query matched, with or without the field.

Errors (in this order, all before any document is read): bad ``percents`` or
``bucketsAggregationType``, InvalidRequestException; an unknown index, or thing indexing OFF,
ResourceNotFoundException; the index BUILDING, IndexNotReadyException; a bad ``queryVersion``,
InvalidRequestException; a bad query, InvalidQueryException; a field that is not aggregatable,
or not Number for percentiles, InvalidAggregationException. When GetStatistics, GetCardinality
and GetPercentiles get no field, ``registry.version`` is used for all three (the guide says so
for GetStatistics only, inf).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final, Generic, TypeVar

from simulator.core.errors import (
    IndexNotReadyException,
    InvalidAggregationException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from simulator.core.fleet_query import (
    IndexDocument,
    Leaf,
    MatchAll,
    Predicate,
    compile_query,
)
from simulator.services.index.aggfields import (
    DEFAULT_FIELD,
    AggregationField,
    raw_reader,
    resolve_field,
)
from simulator.services.index.aggmath import (
    CONVERT,
    Value,
    buckets,
    max_buckets,
    percentiles,
    statistics,
)
from simulator.services.index.aggmath import percents as percents_of
from simulator.services.index.config import GroupIndexing, ThingIndexing
from simulator.services.index.dynamic import QUERY_VERSION, THINGS_INDEX
from simulator.services.index.model import BuildStatus, IndexOptions, ShadowSource
from simulator.services.index.results import (
    BucketsAggregation,
    Cardinality,
    Percentiles,
    Statistics,
)
from simulator.services.index.scan import one_pass
from simulator.services.registry import Registry, RegistryEvent, Thing

__all__ = ["AggregationOps", "AggregationScan"]

_GROUPS_INDEX: Final = "AWS_ThingGroups"
_NO_DOCUMENT: Final[IndexDocument] = {}

R = TypeVar("R")


class AggregationScan(Generic[R]):
    """One aggregation request, evaluated a slice of the fleet at a time.

    Args:
        things: the registry's things by name (read at each step, never changed).
        predicate: the compiled query; ``None`` for ``*`` read without documents (``field``'s
            reader then takes no document: :func:`.aggfields.raw_reader`).
        document: the thing's index document (cached by the index service).
        field: the aggregation field (its reader and type).
        finish: ``finish(values, matched)`` turns the values of the right type and the number
            of things matched into the operation's result.
        step_docs: documents per :meth:`step` when the driver does not say.
    """

    __slots__ = (
        "_convert",
        "_document",
        "_finish",
        "_matched",
        "_names",
        "_pos",
        "_predicate",
        "_read",
        "_step",
        "_things",
        "_values",
    )

    def __init__(
        self,
        things: Mapping[str, Thing],
        predicate: Predicate | None,
        document: Callable[[Thing], IndexDocument],
        field: AggregationField,
        finish: Callable[[list[Value], int], R],
        *,
        step_docs: int = 1_000,
    ) -> None:
        self._things = things
        self._names: list[str] = list(things)
        self._pos = 0
        self._predicate = predicate
        self._document = document
        self._read = field.read
        self._convert = CONVERT[field.type]
        self._finish = finish
        self._step = step_docs
        self._values: list[Value] = []
        self._matched = 0

    @property
    def done(self) -> bool:
        """Whether every name of the snapshot has been looked at."""
        return self._pos >= len(self._names)

    def step(self, max_docs: int | None = None, /) -> bool:
        """Evaluate at most ``max_docs`` (``step_docs``) more things; return :attr:`done`."""
        if max_docs is None:
            max_docs = self._step
        if max_docs < 1:
            raise ValueError("max_docs must be at least 1")
        names, things, values = self._names, self._things, self._values
        predicate, document, read, convert = (
            self._predicate,
            self._document,
            self._read,
            self._convert,
        )
        pos, end, matched = self._pos, min(self._pos + max_docs, len(names)), self._matched
        while pos < end:
            thing = things.get(names[pos])
            pos += 1
            if thing is None:
                continue
            if predicate is None:
                doc = _NO_DOCUMENT
            else:
                doc = document(thing)
                if not predicate(doc):
                    continue
            matched += 1
            for leaf in read(thing, doc):
                value = convert(leaf)
                if value is not None:
                    values.append(value)
        self._pos, self._matched = pos, matched
        return self.done

    def run(self) -> R:
        """Step to the end and return the result (the synchronous path)."""
        while not self.step(len(self._names) + 1):
            pass
        return self.result()

    def result(self) -> R:
        """The operation's result; only once :attr:`done`."""
        if not self.done:
            raise RuntimeError("AggregationScan.result() before the scan is done")
        return self._finish(self._values, self._matched)


class AggregationOps:
    """Aggregation operations of :class:`simulator.services.index.IndexService`."""

    registry: Registry
    shadows: ShadowSource
    options: IndexOptions
    _thing_config: ThingIndexing
    _group_config: GroupIndexing
    _index_status: BuildStatus | None
    _doc: Callable[[Thing], IndexDocument]  # provided by IndexService
    _raw_values: dict[str, dict[str, tuple[Leaf, ...]]]  # field -> thing -> leaves

    def _aggregation(
        self,
        index_name: str | None,
        query_string: str,
        query_version: str | None,
        field_name: str | None,
        finish: Callable[[AggregationField], Callable[[list[Value], int], R]],
    ) -> AggregationScan[R]:
        index = THINGS_INDEX if index_name is None else index_name
        if index == _GROUPS_INDEX and self._group_config.mode == "ON":
            raise InvalidRequestException(f"Aggregating {_GROUPS_INDEX} is not emulated")
        if index != THINGS_INDEX or self._index_status is None:
            raise ResourceNotFoundException(f"Index {index} does not exist")
        if self._index_status is BuildStatus.BUILDING:
            raise IndexNotReadyException(f"Index {index} is not ready: it is still building")
        if query_version is not None and query_version != QUERY_VERSION:
            raise InvalidRequestException(f"Unsupported queryVersion {query_version!r}")
        query = compile_query(query_string, syntax=self.options.syntax)
        field = resolve_field(
            DEFAULT_FIELD if field_name is None else field_name, self._thing_config
        )
        done = finish(field)
        predicate: Predicate | None = query.predicate
        if isinstance(query.node, MatchAll):  # every thing: read the field without documents
            live = getattr(self.shadows, "reported", None)
            raw = raw_reader(field, live, self._raw_cache(field.name))
            if raw is not None:
                predicate, field = None, replace(field, read=raw)
        return AggregationScan(
            self.registry.things,
            predicate,
            self._doc,
            field,
            done,
            step_docs=self.options.step_things,
        )

    # -- values read without documents (see aggfields.raw_reader), kept until they change ------

    def _raw_cache(self, field_name: str) -> dict[str, tuple[Leaf, ...]]:
        caches: dict[str, dict[str, tuple[Leaf, ...]]] | None = self.__dict__.get("_raw_values")
        if caches is None:  # the first aggregation: follow changes from now on
            caches = self._raw_values = {}
            self.shadows.subscribe(self._raw_shadow_changed)
            self.registry.subscribe(self._raw_registry_changed)
        return caches.setdefault(field_name, {})

    def _raw_shadow_changed(self, thing_name: str, _shadow: str | None) -> None:
        for cache in self._raw_values.values():
            cache.pop(thing_name, None)

    def _raw_registry_changed(self, event: RegistryEvent) -> None:
        if event.kind in ("thing-created", "thing-deleted"):
            self._raw_shadow_changed(event.thing, None)

    # -- GetStatistics ---------------------------------------------------------------------------

    def start_get_statistics(
        self,
        *,
        query_string: str,
        index_name: str | None = None,
        aggregation_field: str | None = None,
        query_version: str | None = None,
    ) -> AggregationScan[Statistics]:
        """GetStatistics as resumable work (errors raised before any document is read)."""
        return self._aggregation(
            index_name,
            query_string,
            query_version,
            aggregation_field,
            lambda field: lambda values, _: statistics(field.type, values),
        )

    get_statistics = one_pass(start_get_statistics)

    # -- GetCardinality --------------------------------------------------------------------------

    def start_get_cardinality(
        self,
        *,
        query_string: str,
        index_name: str | None = None,
        aggregation_field: str | None = None,
        query_version: str | None = None,
    ) -> AggregationScan[Cardinality]:
        """GetCardinality as resumable work: the exact number of distinct values."""
        return self._aggregation(
            index_name,
            query_string,
            query_version,
            aggregation_field,
            lambda _: lambda values, _n: Cardinality(len(set(values))),
        )

    get_cardinality = one_pass(start_get_cardinality)

    # -- GetPercentiles --------------------------------------------------------------------------

    def start_get_percentiles(
        self,
        *,
        query_string: str,
        index_name: str | None = None,
        aggregation_field: str | None = None,
        query_version: str | None = None,
        percents: Sequence[float] | None = None,
    ) -> AggregationScan[Percentiles]:
        """GetPercentiles as resumable work; the field must be of type Number."""
        wanted = percents_of(percents)

        def finish(field: AggregationField) -> Callable[[list[Value], int], Percentiles]:
            if field.type != "Number":
                raise InvalidAggregationException(
                    f"GetPercentiles needs a Number field; {field.name} is {field.type}"
                )
            return lambda values, _: percentiles(values, wanted)

        return self._aggregation(index_name, query_string, query_version, aggregation_field, finish)

    get_percentiles = one_pass(start_get_percentiles)

    # -- GetBucketsAggregation -------------------------------------------------------------------

    def start_get_buckets_aggregation(
        self,
        *,
        query_string: str,
        aggregation_field: str,
        buckets_aggregation_type: dict[str, Any],
        index_name: str | None = None,
        query_version: str | None = None,
    ) -> AggregationScan[BucketsAggregation]:
        """GetBucketsAggregation (terms) as resumable work."""
        limit = max_buckets(buckets_aggregation_type)
        return self._aggregation(
            index_name,
            query_string,
            query_version,
            aggregation_field,
            lambda field: lambda values, matched: buckets(field.type, values, matched, limit),
        )

    get_buckets_aggregation = one_pass(start_get_buckets_aggregation)
