"""Where alerts go downstream from the Ingress: the one way pages, late pages and resolutions are delivered
(``serve_app/relay.py``). The receivers (and their HTTP clients) are built once per config and shared by
every request; a new config, or a new HTTP client, builds them again."""

from __future__ import annotations

import json

import httpx

from serve_app.config import IngressConfig
from serve_app.delivery import Outbox
from serve_app.receivers import configured_receivers
from serve_app.relay import Relay

OutboxKey = tuple[str, str | None, float, int]


class Downstream:
    """The relay for the config in force, its outbox reused while the config and HTTP client stay."""

    def __init__(self) -> None:
        self._built: tuple[OutboxKey, Outbox] | None = None

    def relay(self, args: IngressConfig, http: httpx.AsyncClient) -> Relay:
        receivers_json = json.dumps([r.model_dump(mode="json") for r in args.receivers])
        key = (receivers_json, args.downstream_url, args.forward_timeout_s, id(http))
        if self._built is None or self._built[0] != key:
            receivers = configured_receivers(args.receivers, args.downstream_url, args.forward_timeout_s)
            self._built = (key, Outbox(receivers, http))
        return Relay(http, args.downstream_url, args.max_alerts_per_request, self._built[1])
