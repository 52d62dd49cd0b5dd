"""The public API of every package is its ``__all__``: this walks the whole ``simulator`` tree and
pins each package's, so a change to what the project exports is deliberate (update ``PUBLIC``).

Every package declares ``__all__`` (an empty one for packages whose modules are imported one by
one), and every name it exports exists. ``simulator.locustrun`` is read from its source, not
imported: importing locust gevent-patches the process.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "simulator"
#: Packages whose import has side effects on the whole process (read from source instead).
NOT_IMPORTED = {"simulator.locustrun", "simulator.locustrun.bench"}


def packages() -> list[str]:
    """Every package of the tree, by dotted name."""
    return sorted(
        ".".join(init.parent.relative_to(ROOT).parts) for init in PACKAGE.rglob("__init__.py")
    )


def declared(name: str) -> list[str] | None:
    """``__all__`` as the package's ``__init__.py`` assigns it (``None``: it does not)."""
    init = ROOT.joinpath(*name.split("."), "__init__.py")
    for node in ast.parse(init.read_text()).body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            assert node.value is not None
            value = ast.literal_eval(node.value)
            assert isinstance(value, list), f"{name}.__all__ is not a list"
            return [str(item) for item in value]
    return None


def exported(name: str) -> list[str]:
    if name in NOT_IMPORTED:
        names = declared(name)
        assert names is not None, f"{name} has no __all__"
        return names
    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{name} has no __all__"
    return list(names)


PUBLIC: dict[str, list[str]] = {
    "simulator": [],
    "simulator.api": [],
    "simulator.api.durable": [
        "JournaledPlane",
        "Restored",
        "Settings",
        "StateDir",
        "StateError",
    ],
    "simulator.api.http": [
        "AuthMode",
        "HttpApi",
        "LoopScheduler",
        "MAX_BODY",
        "ROUTES",
        "Reply",
        "Route",
        "SIGNING_NAMES",
        "ServerConfig",
        "build_api",
        "serve",
    ],
    "simulator.api.mqtt": [
        "JobsRequest",
        "handle_jobs",
        "handle_shadow",
        "parse_jobs_topic",
        "parse_shadow_topic",
    ],
    "simulator.api.wire": [
        "ENCODERS",
        "Encoder",
        "empty",
    ],
    "simulator.bench": [
        "BENCHMARKS",
        "Benchmark",
        "BenchmarkModule",
    ],
    "simulator.commands": [],
    "simulator.core.catalog": [
        "Catalog",
        "CatalogQuotas",
        "Package",
        "PackageConfiguration",
        "PackageVersion",
        "S3Location",
        "VersionAction",
        "VersionStatus",
        "check_artifact",
    ],
    "simulator.core.device": [
        "Action",
        "Device",
        "DeviceIO",
        "DeviceProfile",
        "DeviceState",
        "Event",
        "JobPlan",
        "PlanCache",
        "Step",
        "StepBehaviour",
        "StepKind",
        "TRANSITIONS",
        "Transition",
        "plan_job",
    ],
    "simulator.core.fleet_query": [
        "And",
        "Compare",
        "CompiledQuery",
        "Exists",
        "Glob",
        "IndexDocument",
        "Leaf",
        "MatchAll",
        "Node",
        "Not",
        "Or",
        "Predicate",
        "Prefix",
        "QuerySyntax",
        "Range",
        "Term",
        "Wildcard",
        "build_document",
        "compile_glob",
        "compile_node",
        "compile_query",
        "count_terms",
        "parse",
        "parse_number",
        "with_group_names",
    ],
    "simulator.core.jobs": [
        "AbortConfig",
        "AbortCriteria",
        "Actor",
        "CronExpression",
        "DEVICE_STATUSES",
        "ExecutionStatus",
        "ExponentialRate",
        "JOB_TRANSITIONS",
        "JobEvent",
        "JobStatus",
        "MaintenanceWindow",
        "PresignedUrlConfig",
        "Refusal",
        "RetryConfig",
        "RetryCriteria",
        "RolloutConfig",
        "RolloutWindow",
        "SchedulingConfig",
        "StatusDetailsChecker",
        "TERMINAL",
        "TRANSITIONS",
        "TargetSelection",
        "TimeoutConfig",
        "check_status_details",
        "check_transition",
        "format_schedule_time",
        "initial_job_status",
        "job_transition",
        "next_window",
        "parse_abort_config",
        "parse_cron",
        "parse_maintenance_windows",
        "parse_presigned_url_config",
        "parse_retry_config",
        "parse_rollout_config",
        "parse_scheduling_config",
        "parse_timeout_config",
        "plan_release",
        "rate_per_minute",
        "upcoming_windows",
        "window_open",
    ],
    "simulator.core.policy": [
        "Context",
        "DeviceAcl",
        "Neighbours",
        "Note",
        "Policy",
        "PolicyDocumentError",
        "Reach",
        "Rule",
        "Statement",
        "compile_rules",
        "evaluate",
        "parse_policy",
        "reaches",
        "to_filters",
        "translate",
    ],
    "simulator.core.shadow": [
        "JsonObject",
        "PACKAGE_SHADOW",
        "Shadow",
        "ShadowOptions",
        "ShadowStore",
        "UpdateOutcome",
        "UpdateRequest",
        "check_shadow_name",
        "check_thing_name",
        "client_token_of",
        "delta",
        "merge",
        "parse_update",
    ],
    "simulator.core.substitution": [
        "Compiler",
        "Execution",
        "JobDocument",
        "PackageLookup",
        "PackageRef",
        "PlaceholderMemo",
        "PresignConfig",
        "Presigner",
        "S3Object",
        "SubstitutionOptions",
        "SubstitutionSnapshot",
        "SubstitutionStats",
        "Template",
        "compile_document",
        "parse_s3_url",
        "prepare_job_document",
        "presign_requests",
        "render_for_device",
        "scan",
    ],
    "simulator.engine": [],
    "simulator.engine.mqtt": [
        "BrokerDevices",
        "DeviceTransport",
        "MqttDeviceLink",
        "MqttOptions",
        "RunLedger",
        "device_topics",
        "parse_control_plane",
        "parse_source_addresses",
    ],
    "simulator.engine.planes": [
        "InProcessPlane",
        "JobInfo",
        "Plane",
        "build_plane",
        "job_info",
        "job_summary",
        "real_clock",
    ],
    "simulator.lab": [
        "CI_METHOD",
        "Measure",
        "RunNumbers",
        "Sweep",
        "Variant",
        "Vary",
        "apply_overrides",
        "default_jobs",
        "measure",
        "parse_seeds",
        "parse_vary",
        "prepare",
        "render_sweep_html",
        "run_sweep",
        "sweep_dict",
        "variants",
        "write_sweep",
    ],
    "simulator.locustrun": [
        "DeviceUser",
        "install",
    ],
    "simulator.locustrun.bench": [],
    "simulator.report": [
        "JobSummary",
        "RunResult",
        "Sample",
        "VersionSample",
        "WriterSummary",
        "report_dict",
        "write_html",
        "write_json",
        "write_report",
    ],
    "simulator.services.index": [
        "BuildStatus",
        "IndexOptions",
        "IndexService",
        "ShadowSource",
    ],
    "simulator.services.jobs": [
        "JobState",
        "JobsDataService",
        "JobsNotices",
        "JobsOptions",
        "JobsService",
        "NoNotices",
        "PackageShadows",
    ],
    "simulator.services.registry": [
        "Group",
        "Registry",
        "RegistryEvent",
        "Thing",
    ],
    "simulator.transport": [],
    "simulator.transport.broker": [
        "Bridge",
        "BridgeConfig",
        "BridgeStats",
        "BrokerFiles",
        "BrokerLayout",
        "DEVICE_PATTERN",
        "REQUEST_FILTERS",
        "RequestHandler",
        "partition_filters",
        "write_broker_config",
    ],
    "simulator.transport.mqtt": [
        "AWS_IOT_ALPN",
        "Backoff",
        "BrokerConfig",
        "Connection",
        "ConnectionPool",
        "ConnectionRefused",
        "ConnectionState",
        "MessageCallback",
        "MqttError",
        "PoolOptions",
        "PoolStats",
        "ProtocolError",
        "Shard",
        "TlsConfig",
        "TokenBucket",
        "connection_capacity",
        "loopback_sources",
        "parse_broker_uri",
        "parse_shard",
        "raise_open_file_limit",
        "shard_range",
    ],
}


def test_every_package_is_pinned() -> None:
    assert packages() == sorted(PUBLIC), "a package was added or removed: pin its __all__"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_exported_members(name: str) -> None:
    names = exported(name)
    assert len(set(names)) == len(names), f"{name}.__all__ lists a name twice"
    assert sorted(names) == PUBLIC[name]
    if name not in NOT_IMPORTED:
        module = importlib.import_module(name)
        for member in names:
            assert hasattr(module, member), f"{name}.{member} is exported but missing"
