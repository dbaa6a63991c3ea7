"""The token bucket (serve_app/ratelimit.py), on a simulated clock: no 60 s holds more than per_minute
events, and a wait past the deadline books nothing."""

from __future__ import annotations

from serve_app.ratelimit import RateLimiter, TokenBucket
from serve_app.receivers import RateLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_minute_holds_more_than_per_minute_events() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(per_minute=120, burst=10), clock)
    sent: list[float] = []
    while clock.now < 600:
        wait = bucket.reserve()
        assert wait is not None
        clock.now += wait
        sent.append(clock.now)
    assert max(sum(1 for u in sent if t <= u < t + 60) for t in sent) <= 120
    assert len(sent) > 10 * 110, "and it does send at about the rate"
    assert sent[:10] == [0.0] * 10, "the burst goes at once"


def test_a_wait_past_the_deadline_books_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(per_minute=70, burst=10), clock)  # one token a second after the burst
    assert [bucket.reserve(deadline=0.0) for _ in range(10)] == [0.0] * 10
    assert bucket.reserve(deadline=0.5) is None
    assert bucket.reserve(deadline=1.0) == 1.0
    assert bucket.reserve(deadline=1.0) is None, "the next token is booked already"


def test_receivers_sharing_a_routing_key_share_a_bucket() -> None:
    clock = Clock()
    limiter, limit = RateLimiter(clock), RateLimit(per_minute=70, burst=1)
    assert limiter.reserve("key", limit, 0.0) == 0.0
    assert limiter.reserve("key", limit, 0.0) is None and limiter.reserve("other", limit, 0.0) == 0.0
    assert "key" not in str(limiter.buckets), "the key is kept as a digest"
