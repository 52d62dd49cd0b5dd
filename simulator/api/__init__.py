"""API layer: HTTP (boto3-compatible) and MQTT topic codecs over the services."""

__all__: list[str] = []
