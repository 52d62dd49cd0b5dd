"""Fleet indexing (``AWS_Things``), SearchIndex and dynamic thing groups.

:class:`IndexService` implements GetIndexingConfiguration, UpdateIndexingConfiguration,
DescribeIndex, SearchIndex, the aggregations (GetStatistics, GetCardinality, GetPercentiles,
GetBucketsAggregation: :mod:`.aggregate`) and Create/Update/DeleteDynamicThingGroup over the
registry and the shadow service (anything with :class:`ShadowSource`'s two methods); the query
language is :mod:`simulator.core.fleet_query`.
"""

from simulator.services.index.model import BuildStatus, IndexOptions, ShadowSource
from simulator.services.index.service import IndexService

__all__ = ["BuildStatus", "IndexOptions", "IndexService", "ShadowSource"]
