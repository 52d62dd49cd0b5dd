"""Fleet indexing in the ``iot`` API's shape: configuration, the ``AWS_Things`` index, search.

The index is not stored as such: each thing's index document (registry data plus the indexed
shadows, see :func:`simulator.core.fleet_query.build_document`) is built on demand and cached
until the thing, its groups, one of its indexed shadows or the configuration changes. Search
evaluates a compiled query over the cached documents in registry order, in one pass
(:meth:`IndexService.search_index`) or in bounded steps that a server interleaves with other
requests (:meth:`IndexService.start_search_index`, :mod:`.scan`). Operations return the typed
records of :mod:`.results`; their AWS shapes are :mod:`simulator.api.wire.index`.

Error choices (AWS documents the error types, not when each applies; inf): an unknown index name,
or ``AWS_Things`` while thing indexing is OFF, is ResourceNotFoundException; ``AWS_Things`` while
it is (first) BUILDING is IndexNotReadyException; a REBUILDING index answers from current data.
``AWS_ThingGroups`` can be described when group indexing is ON but not searched (not emulated).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from simulator.core.errors import (
    IndexNotReadyException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from simulator.core.fleet_query import (
    IndexDocument,
    build_document,
    compile_query,
    with_group_names,
)
from simulator.core.paging import decode_token, encode_token, page_size
from simulator.services.index.aggregate import AggregationOps
from simulator.services.index.config import (
    GroupIndexing,
    ThingIndexing,
    parse_group,
    parse_thing,
)
from simulator.services.index.dynamic import (
    QUERY_VERSION,
    THINGS_INDEX,
    DynamicGroupOps,
    DynamicState,
)
from simulator.services.index.model import (
    BuildStatus,
    Change,
    IndexOptions,
    ShadowSource,
    advance,
)
from simulator.services.index.results import (
    IndexDescription,
    IndexingConfiguration,
    SearchHit,
    SearchPage,
)
from simulator.services.index.scan import SearchScan, one_pass
from simulator.services.registry import Registry, RegistryEvent, Thing
from simulator.services.runtime import Runtime, TimerHandle

__all__ = ["IndexService"]

GROUPS_INDEX: Final = "AWS_ThingGroups"


class IndexService(DynamicGroupOps, AggregationOps):
    """Fleet indexing and dynamic thing groups of one account."""

    def __init__(
        self,
        runtime: Runtime,
        registry: Registry,
        shadows: ShadowSource,
        options: IndexOptions | None = None,
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.shadows = shadows
        self.options = options or IndexOptions()
        self._thing_config = ThingIndexing()
        self._group_config = GroupIndexing()
        self._index_status: BuildStatus | None = None
        self._index_timer: TimerHandle | None = None
        self._docs: dict[str, IndexDocument] = {}
        self._dynamic: dict[str, DynamicState] = {}
        self._dirty: dict[str, None] = {}
        self._flushing: list[str] = []
        self._flush_pos = 0
        self._flush_timer: TimerHandle | None = None
        self._blocked: dict[str, set[str]] = {}
        self._failures = 0
        self._seq = 0
        registry.subscribe(self._on_registry_event)
        shadows.subscribe(self._on_shadow_change)

    # -- configuration ---------------------------------------------------------------------------

    def get_indexing_configuration(self) -> IndexingConfiguration:
        """GetIndexingConfiguration: the thing and thing-group configurations as stored."""
        return IndexingConfiguration(self._thing_config, self._group_config)

    def update_indexing_configuration(
        self,
        *,
        thing_indexing_configuration: dict[str, Any] | None = None,
        thing_group_indexing_configuration: dict[str, Any] | None = None,
    ) -> None:
        """UpdateIndexingConfiguration: replace either configuration; omitted ones stay.

        Changing what is indexed clears the document cache, moves ``AWS_Things`` through
        BUILDING or REBUILDING and re-evaluates every thing against the dynamic groups.

        Raises:
            InvalidRequestException: a malformed configuration, or thing indexing turned OFF
                while dynamic groups exist.
        """
        thing = self._thing_config
        if thing_indexing_configuration is not None:
            thing = parse_thing(
                thing_indexing_configuration,
                max_shadow_names=self.options.max_named_shadow_names,
            )
        group = self._group_config
        if thing_group_indexing_configuration is not None:
            group = parse_group(thing_group_indexing_configuration)
        if not thing.enabled and self._dynamic:
            raise InvalidRequestException(
                "Thing indexing cannot be turned off while dynamic thing groups exist"
            )
        old, self._thing_config, self._group_config = self._thing_config, thing, group
        if thing != old:
            self._reindex(old)

    def _reindex(self, old: ThingIndexing) -> None:
        self._docs.clear()
        if self._index_timer is not None:
            self._index_timer.cancel()
            self._index_timer = None
        if not self._thing_config.enabled:
            self._index_status = None
            return
        change = Change.CREATE if not old.enabled else Change.UPDATE
        self._index_status = advance(self._index_status, change)
        delay = self.options.index_build_delay_s
        if delay <= 0:
            self._index_built()
        else:
            when = self.runtime.clock() + delay
            self._index_timer = self.runtime.scheduler.call_at(when, self._index_built)
        self._touch(self.registry.things)  # what is indexed changed: membership may follow

    def _index_built(self) -> None:
        self._index_timer = None
        self._index_status = advance(self._index_status, Change.BUILT) or self._index_status

    def describe_index(self, *, index_name: str) -> IndexDescription:
        """DescribeIndex: the index's name, status and schema."""
        if index_name == THINGS_INDEX and self._index_status is not None:
            return IndexDescription(index_name, self._index_status, self._thing_config.schema())
        if index_name == GROUPS_INDEX and self._group_config.mode == "ON":
            return IndexDescription(index_name, BuildStatus.ACTIVE, "THING_GROUPS")
        raise ResourceNotFoundException(f"Index {index_name} does not exist")

    # -- search ----------------------------------------------------------------------------------

    def start_search_index(
        self,
        *,
        index_name: str | None = None,
        query_string: str,
        next_token: str | None = None,
        max_results: int | None = None,
        query_version: str | None = None,
    ) -> SearchScan[SearchPage]:
        """SearchIndex over ``AWS_Things``, in registry order, paged by ``nextToken``, as a scan
        to be stepped (see :mod:`.scan`); :attr:`search_index` runs it in one call.

        Raises (all before any document is evaluated):
            InvalidQueryException: the query is malformed or unsupported.
            IndexNotReadyException: the index is still BUILDING.
            ResourceNotFoundException: an unknown index, or thing indexing is OFF.
            InvalidRequestException: a bad page size, token or ``queryVersion``.
        """
        index = THINGS_INDEX if index_name is None else index_name
        if index == GROUPS_INDEX and self._group_config.mode == "ON":
            raise InvalidRequestException(f"Searching {GROUPS_INDEX} is not emulated")
        if index != THINGS_INDEX or self._index_status is None:
            raise ResourceNotFoundException(f"Index {index} does not exist")
        if self._index_status is BuildStatus.BUILDING:
            raise IndexNotReadyException(f"Index {index} is not ready: it is still building")
        if query_version is not None and query_version != QUERY_VERSION:
            raise InvalidRequestException(f"Unsupported queryVersion {query_version!r}")
        predicate = compile_query(query_string, syntax=self.options.syntax).predicate
        size = page_size(max_results, limit=self.options.max_results)
        start = 0 if next_token is None else decode_token(next_token, "search", (int,))[0]

        def finish(hits: Sequence[tuple[int, Thing]]) -> SearchPage:
            token = encode_token("search", hits[size][0]) if len(hits) > size else None
            found = tuple(SearchHit(t, self._indexed_shadows(t.name)) for _, t in hits[:size])
            return SearchPage(found, token)

        return SearchScan(
            self.registry.things,
            self.registry.thing_order,
            predicate,
            self._doc,
            start=start,
            wanted=size + 1,
            finish=finish,
            step_docs=self.options.step_things,
        )

    search_index = one_pass(start_search_index)

    # -- documents -------------------------------------------------------------------------------

    def _indexed_shadows(self, thing_name: str) -> dict[str | None, dict[str, Any]]:
        config = self._thing_config
        if config.mode != "REGISTRY_AND_SHADOW":
            return {}
        names: list[str | None] = [None]
        if config.named_shadows:
            names.extend(config.shadow_names)
        out: dict[str | None, dict[str, Any]] = {}
        for name in names:
            state = self.shadows.state(thing_name, name)
            if state is not None:
                out[name] = dict(state)
        return out

    def _doc(self, thing: Thing) -> IndexDocument:
        document = self._docs.get(thing.name)
        if document is None:
            document = self._docs[thing.name] = build_document(
                thing_name=thing.name,
                thing_id=thing.thing_id,
                thing_type_name=thing.thing_type,
                thing_group_names=thing.groups,
                attributes=thing.attributes,
                shadows=self._indexed_shadows(thing.name),
            )
        return document

    # -- change feeds ----------------------------------------------------------------------------

    def _on_registry_event(self, event: RegistryEvent) -> None:
        if event.group is not None:
            # Membership changed: patch the cached document rather than rebuild it (a group
            # build joins thousands of things, each then evaluated against the next group).
            document = self._docs.get(event.thing)
            thing = self.registry.things.get(event.thing)
            if document is not None and thing is not None:
                self._docs[event.thing] = with_group_names(document, thing.groups)
        else:
            self._docs.pop(event.thing, None)
        if event.kind == "thing-deleted":
            self._blocked.pop(event.thing, None)
            return
        if event.group is not None and event.group in self._dynamic:
            return  # our own membership change: re-evaluating it could only loop
        self._touch((event.thing,))

    def _on_shadow_change(self, thing_name: str, shadow_name: str | None) -> None:
        if not self._thing_config.indexes(shadow_name):
            return
        self._docs.pop(thing_name, None)
        if thing_name in self.registry.things:
            self._touch((thing_name,))
