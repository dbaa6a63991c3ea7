"""Names and tag keys of the metrics alertsieve exports: the contract between serve_app (which records
them through Ray's metrics export) and dashboards/ (which queries them). Ray prefixes every name with
``ray_`` on its Prometheus endpoint; ``prom()`` gives the scraped name.

Checked against Ray 2.60 (OpenTelemetry recorder, the default): a Counter is scraped as
``ray_<name>_total``, a Histogram as ``ray_<name>_bucket`` (``le`` rendered like ``"0.14"``, ``"1.0"``,
``"+Inf"``), ``ray_<name>_sum`` and ``ray_<name>_count``, a Gauge as ``ray_<name>``. Every series also
carries ``Component``, ``NodeAddress``, ``SessionName``, ``Version``, ``WorkerId`` and ``otel_scope_*``
labels: one series per worker process, so queries aggregate with ``sum``/``max`` by the tags they need.
"""

from __future__ import annotations

RAY_PREFIX = "ray_"

# Counters (tags in comments)
ALERTS_SCORED = "alertsieve_alerts_scored"  # service, decision, arm, model_version
REQUESTS = "alertsieve_requests"  # route, code
ERRORS = "alertsieve_errors"  # stage
FAIL_OPEN = "alertsieve_fail_open"  # reason
EMBED_CACHE_LOOKUPS = "alertsieve_embedding_cache_lookups"  # (none)
EMBED_CACHE_HITS = "alertsieve_embedding_cache_hits"  # (none)
FEEDBACK = "alertsieve_feedback"  # service, decision, actionable ("true"/"false"), arm, model_version
FORWARDED = "alertsieve_forwarded"  # receiver (a name, "*" for unrouted), outcome: ok, error, retry, unrouted,
# rejected (a 400: final), deferred (to the retry outbox), resent_skipped (a resend of what a receiver took)
UNSCORED = "alertsieve_unscored"  # reason: alerts the webhook forwarded undecided (1 per unreadable body;
# "truncated": the truncatedAlerts Alertmanager left out, paged to the group as a notice)
CLOCK_SKEW = "alertsieve_clock_skew"  # service: alerts dated too far ahead, seen by the stream context as now
# reason ("still_firing"/"should_have_paged"), via ("sweep"/"resend"/"feedback"), outcome ("ok"/"error"):
# suppressed alerts paged late (delayed paging, or a person's "should have paged")
LATE_PAGES = "alertsieve_late_pages"

# Histogram (seconds)
SCORE_LATENCY = "alertsieve_score_latency_seconds"  # route
LATENCY_BUCKETS_S: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.14, 0.2, 0.3, 0.5, 1.0, 2.5)

# Gauges
MODEL_INFO = "alertsieve_model_info"  # model_version, arm; value 1 for the versions in service
THRESHOLD = "alertsieve_threshold"  # service, source ("optimised"/"override"); unscoped overrides only
PAGE_EVERYTHING = "alertsieve_page_everything"  # 1 while the "page everything" switch is on (any scope), else 0
LIVE_SAFETY_PAUSED = "alertsieve_live_safety_paused"  # service; 1 while live safety keeps it from suppressing
TRAINING_LAST_RUN = "alertsieve_training_last_run_timestamp_seconds"
TRAINING_LAST_DURATION = "alertsieve_training_last_duration_seconds"
TRAINING_LAST_SUCCESS = "alertsieve_training_last_success"  # 1 ok, 0 failed (the last run)
TRAINING_LAST_SUCCESS_TIME = "alertsieve_training_last_success_timestamp_seconds"  # the last run that succeeded
TRAINING_ROWS = "alertsieve_training_rows"


COUNTERS: tuple[str, ...] = (
    ALERTS_SCORED,
    REQUESTS,
    ERRORS,
    FAIL_OPEN,
    EMBED_CACHE_LOOKUPS,
    EMBED_CACHE_HITS,
    FEEDBACK,
    FORWARDED,
    UNSCORED,
    CLOCK_SKEW,
    LATE_PAGES,
)
HISTOGRAMS: tuple[str, ...] = (SCORE_LATENCY,)
GAUGES: tuple[str, ...] = (
    MODEL_INFO,
    THRESHOLD,
    PAGE_EVERYTHING,
    LIVE_SAFETY_PAUSED,
    TRAINING_LAST_RUN,
    TRAINING_LAST_DURATION,
    TRAINING_LAST_SUCCESS,
    TRAINING_LAST_SUCCESS_TIME,
    TRAINING_ROWS,
)


def prom(name: str, counter: bool = False) -> str:
    """The series name Prometheus scrapes for a Ray metric (counters gain ``_total``)."""
    return f"{RAY_PREFIX}{name}{'_total' if counter else ''}"


def scraped_series() -> frozenset[str]:
    """Every series name Prometheus scrapes from alertsieve's metrics (histograms in their three parts)."""
    names = {prom(name, counter=True) for name in COUNTERS} | {prom(name) for name in GAUGES}
    names |= {f"{prom(name)}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
    return frozenset(names)
