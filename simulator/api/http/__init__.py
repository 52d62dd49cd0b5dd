"""The boto3-compatible HTTP API: ``iot``, ``iot-jobs-data`` and ``iot-data`` on one port.

Modules, from the wire inwards:

* :mod:`.app`: aiohttp server, real-clock runtime with timers on the asyncio loop;
* :mod:`.connections`: header/body deadlines, connection cap, rate-limited error log;
* :mod:`.dispatch`: request -> service call -> reply, without any HTTP server (sans-IO);
* :mod:`.sigv4`: credential scope (which routes the request) and signature checks via botocore;
* :mod:`.routes` (the table, as data), :mod:`.router` (path matching),
  :mod:`.operations` (routes compiled against botocore's models);
* :mod:`.parse`, :mod:`.validate`, :mod:`.patterns`: model-driven input parsing and validation;
* :mod:`.errors`: the AWS error wire shape and the transport's own errors.
"""

from simulator.api.http.app import MAX_BODY, LoopScheduler, ServerConfig, build_api, serve
from simulator.api.http.dispatch import AuthMode, HttpApi, Reply
from simulator.api.http.routes import ROUTES, SIGNING_NAMES, Route

__all__ = [
    "MAX_BODY",
    "ROUTES",
    "SIGNING_NAMES",
    "AuthMode",
    "HttpApi",
    "LoopScheduler",
    "Reply",
    "Route",
    "ServerConfig",
    "build_api",
    "serve",
]
