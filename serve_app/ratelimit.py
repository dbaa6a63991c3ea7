"""The per-routing-key rate limiter of deliveries (``RateLimit`` in ``serve_app/receivers.py``).

A token bucket per key (PagerDuty: a digest of the integration key, so receivers sharing a key share its
limit; else the receiver's name): ``burst`` tokens, refilled at ``(per_minute - burst) / 60`` a second, so
that no 60 s holds more than ``per_minute`` events. ``reserve`` takes a token now or books the next one
free, and says how long to wait for it; a wait that would end past the caller's deadline books nothing
(the event then goes to the retry outbox). The clock is injected, so the tests run a minute of traffic in
no time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from serve_app.delivery_policy import RateLimit

Clock = Callable[[], float]


@dataclass
class TokenBucket:
    limit: RateLimit
    clock: Clock
    tokens: float = field(init=False)
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens, self.at = float(self.limit.burst), self.clock()

    @property
    def rate_per_s(self) -> float:
        return (self.limit.per_minute - self.limit.burst) / 60.0

    def reserve(self, deadline: float | None = None) -> float | None:
        """Seconds to wait before sending (0: now), the token booked; None: not before ``deadline``."""
        now = self.clock()
        self.tokens = min(float(self.limit.burst), self.tokens + (now - self.at) * self.rate_per_s)
        self.at = now
        wait = 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate_per_s
        if deadline is not None and now + wait > deadline:
            return None
        self.tokens -= 1.0  # below zero: later tokens booked by earlier callers
        return wait


class RateLimiter:
    """The buckets, one per key; a bucket whose limit changed starts afresh."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.buckets: dict[str, TokenBucket] = {}

    def reserve(self, key: str, limit: RateLimit, deadline: float | None = None) -> float | None:
        name = hashlib.sha256(key.encode()).hexdigest()[:24]  # no secret kept as a key
        bucket = self.buckets.get(name)
        if bucket is None or bucket.limit != limit:
            bucket = self.buckets[name] = TokenBucket(limit, self.clock)
        return bucket.reserve(deadline)
