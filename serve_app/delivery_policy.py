"""How a receiver is retried and paced: ``RetryPolicy`` (backoff with jitter, Retry-After honoured) and
``RateLimit`` (a token bucket's size and rate), the typed parts of a receiver's config
(``serve_app/receivers.py``) that ``serve_app/posting.py`` and ``serve_app/ratelimit.py`` apply."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetryPolicy(BaseModel):
    """Retries on 429, 5xx and connection errors: backoff ``backoff_s * 2**n`` (capped), or the
    receiver's Retry-After when it gives one (capped the same)."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=3, ge=1, le=20, description="tries in all on 5xx and connection errors")
    backoff_s: float = Field(default=0.5, ge=0.0, le=60.0, description="wait before the first retry")
    max_backoff_s: float = Field(default=10.0, ge=0.0, le=300.0, description="cap on any wait, Retry-After too")
    jitter: float = Field(default=0.2, ge=0.0, le=1.0, description="each computed wait varies by up to this share")

    def backoff(self, retry: int, retry_after: float | None = None, draw: float = 0.5) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry); ``draw`` in [0, 1) sets
        the jitter (0.5: none). A Retry-After is taken as given (capped), without jitter."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_backoff_s))
        wait = self.backoff_s * 2.0**retry * (1 + self.jitter * (2 * draw - 1))
        return max(0.0, min(wait, self.max_backoff_s))


class RateLimit(BaseModel):
    """A token bucket per routing key (PagerDuty) or receiver: at most ``per_minute`` events in any 60 s,
    ``burst`` of them at once. An event that would wait past the request's deadline goes to the retry
    outbox (``serve_app/retry_outbox.py``), which sends it when the bucket allows."""

    model_config = ConfigDict(extra="forbid")

    per_minute: float = Field(gt=0.0, le=100_000.0, description="events in any 60 s, at most")
    burst: int = Field(default=10, ge=1, le=10_000, description="events sent at once before the rate applies")

    @model_validator(mode="after")
    def _fits(self) -> RateLimit:
        if self.burst >= self.per_minute:
            raise ValueError("rate: burst must be under per_minute")
        return self
