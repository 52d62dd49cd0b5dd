"""AWS IoT Core quotas a load test must respect, and what a scenario would exceed.

Defaults from the AWS IoT Core endpoints-and-quotas page (they vary by region; an account may
have raised some in Service Quotas): CONNECT 500/s per account in large regions (100/s
elsewhere) and 1/s per client id; 100 publishes/s per connection; Jobs roll out at most 1,000
executions per minute (``maximumPerMinute`` 1..1000); job documents up to 32 KB; the Jobs
control-plane APIs such as DescribeJob at about 10 requests/s (unverified).
"""

from __future__ import annotations

from typing import Final

from simulator.engine.scenario import Scenario

__all__ = ["ACCOUNT_CONNECTS_PER_S", "quota_warnings", "worker_connect_rate"]

ACCOUNT_CONNECTS_PER_S: Final = 500.0
ROLLOUT_PER_MINUTE: Final = 1000
JOB_DOCUMENT_BYTES: Final = 32 * 1024
#: DescribeJob requests per second per account (the Jobs control-plane default; unverified).
DESCRIBE_JOB_PER_S: Final = 10.0


def worker_connect_rate(rate: float, workers: int) -> float:
    """One worker's share of the account's CONNECT quota, at most ``rate``."""
    return min(rate, ACCOUNT_CONNECTS_PER_S / max(1, workers))


def quota_warnings(
    scenario: Scenario, *, spawn_rate: float, workers: int, poll_s: float = 5.0
) -> list[str]:
    """What ``scenario`` run at ``spawn_rate`` users/s over ``workers``, with DescribeJob of
    every job each ``poll_s`` seconds, would exceed on AWS."""
    warnings = []
    polls = len(scenario.jobs) / poll_s
    if polls > DESCRIBE_JOB_PER_S:
        warnings.append(
            f"DescribeJob of {len(scenario.jobs)} jobs every {poll_s:g} s is {polls:g}/s, over "
            f"AWS's {DESCRIBE_JOB_PER_S:g}/s: raise --poll-interval"
        )
    if spawn_rate > ACCOUNT_CONNECTS_PER_S:
        warnings.append(
            f"-r {spawn_rate:g} exceeds AWS IoT's CONNECT quota ({ACCOUNT_CONNECTS_PER_S:g}/s per "
            "account in large regions, 100/s elsewhere): connects are paced at "
            f"{worker_connect_rate(spawn_rate, workers):g}/s per worker process"
        )
    for i, job in enumerate(scenario.jobs):
        rate = (job.rollout or {}).get("maximumPerMinute")
        if isinstance(rate, int) and rate > ROLLOUT_PER_MINUTE:
            warnings.append(
                f"jobs[{i}] {job.id}: maximumPerMinute {rate} exceeds AWS's "
                f"{ROLLOUT_PER_MINUTE} (CreateJob will be refused)"
            )
        document = scenario.documents[i]
        if document is not None and len(document) > JOB_DOCUMENT_BYTES:
            warnings.append(
                f"jobs[{i}] {job.id}: the job document is {len(document):,} bytes, over AWS's "
                f"{JOB_DOCUMENT_BYTES:,}"
            )
    return warnings
