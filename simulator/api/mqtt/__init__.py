"""MQTT topic codecs: transport-neutral functions from (topic, payload) to messages to publish."""

from simulator.api.mqtt.jobs import JobsRequest, handle_jobs, parse_jobs_topic
from simulator.api.mqtt.shadow import handle_shadow, parse_shadow_topic

__all__ = [
    "JobsRequest",
    "handle_jobs",
    "handle_shadow",
    "parse_jobs_topic",
    "parse_shadow_topic",
]
