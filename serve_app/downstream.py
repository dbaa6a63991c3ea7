"""Where alerts go downstream from the Ingress: the one way pages, late pages and resolutions are delivered
(``serve_app/relay.py``). The receivers (and their HTTP clients) are built once per config and shared by
every request; a new config, or a new HTTP client, builds them again. What outlives a rebuild is kept
here: the durable retry outbox (``serve_app/retry_outbox.py``, in the state store), the memory of what was
delivered (``serve_app/delivered.py``) and the rate limiter's buckets (``serve_app/ratelimit.py``)."""

from __future__ import annotations

import json

import httpx

from alertsieve.settings import get_settings
from alertsieve.store import RecordStore, open_store
from serve_app.config import IngressConfig
from serve_app.delivered import DeliveredMemory
from serve_app.delivery import DeliveryClock, DeliveryOptions, Outbox
from serve_app.ratelimit import RateLimiter
from serve_app.receivers import configured_receivers
from serve_app.relay import Relay
from serve_app.retry_outbox import RetryOutbox

OutboxKey = tuple[str, str | None, float, int, float, float, str]


class Downstream:
    """The relay for the config in force, its outbox reused while the config and HTTP client stay."""

    def __init__(self, store: RecordStore | None = None, clock: DeliveryClock | None = None) -> None:
        self._built: tuple[OutboxKey, Outbox] | None = None
        self._store = store  # None: the state store of the settings, opened with the first relay
        self.clock = clock or DeliveryClock()
        self.limiter = RateLimiter(self.clock.monotonic)
        self.memory = DeliveredMemory(900.0, self.clock.monotonic)
        self.retry: RetryOutbox | None = None

    def relay(self, args: IngressConfig, http: httpx.AsyncClient) -> Relay:
        receivers_json = json.dumps([r.model_dump(mode="json") for r in args.receivers])
        key = (
            receivers_json,
            args.downstream_url,
            args.forward_timeout_s,
            id(http),
            args.delivery_deadline_s,
            args.resend_memory_s,
            args.external_url,
        )
        if self._built is None or self._built[0] != key:
            if self.retry is None:
                store = self._store or open_store(get_settings().state_location)
                self.retry = RetryOutbox(store, self.clock.wall, self.clock.draw)
            self.memory.ttl_s = args.resend_memory_s
            receivers = configured_receivers(args.receivers, args.downstream_url, args.forward_timeout_s)
            options = DeliveryOptions(args.external_url, args.delivery_deadline_s, args.resend_memory_s)
            if self._built is not None:
                self._built[1].close()  # its outbox sender stops; the new one drains the same outbox
            outbox = Outbox(
                receivers,
                http,
                options=options,
                clock=self.clock,
                retry=self.retry,
                memory=self.memory,
                limiter=self.limiter,
            )
            self._built = (key, outbox)
        return Relay(http, args.downstream_url, args.max_alerts_per_request, self._built[1])
