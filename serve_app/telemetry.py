"""Ray metrics that the deployments record (names from alertsieve.metric_names), created on first use
inside a replica so that importing this module has no side effects. Ray exports them to Prometheus."""

from __future__ import annotations

from functools import cache

from ray.util import metrics

from alertsieve import metric_names as m


class Telemetry:
    def __init__(self) -> None:
        self.scored = metrics.Counter(
            m.ALERTS_SCORED, "alerts scored", tag_keys=("service", "decision", "arm", "model_version")
        )
        self.requests = metrics.Counter(m.REQUESTS, "HTTP requests", tag_keys=("route", "code"))
        self.errors = metrics.Counter(m.ERRORS, "errors while scoring", tag_keys=("stage",))
        self.fail_open = metrics.Counter(m.FAIL_OPEN, "alerts paged because scoring failed", tag_keys=("reason",))
        self.cache_lookups = metrics.Counter(m.EMBED_CACHE_LOOKUPS, "alert texts the model deployments looked up")
        self.cache_hits = metrics.Counter(
            m.EMBED_CACHE_HITS, "alert texts served without the encoder (remembered or cached)"
        )
        self.feedback = metrics.Counter(
            m.FEEDBACK, "feedback received", tag_keys=("service", "decision", "actionable", "arm", "model_version")
        )
        self.forwarded = metrics.Counter(
            m.FORWARDED, "deliveries to downstream receivers", tag_keys=("receiver", "outcome")
        )
        self.unscored = metrics.Counter(
            m.UNSCORED, "alerts the webhook forwarded without a decision", tag_keys=("reason",)
        )
        self.clock_skew = metrics.Counter(
            m.CLOCK_SKEW, "alerts dated too far ahead for the stream context", tag_keys=("service",)
        )
        self.late_pages = metrics.Counter(
            m.LATE_PAGES, "suppressed alerts paged late", tag_keys=("reason", "via", "outcome")
        )
        self.latency = metrics.Histogram(
            m.SCORE_LATENCY, "scoring latency in seconds", boundaries=list(m.LATENCY_BUCKETS_S), tag_keys=("route",)
        )
        self.model_info = metrics.Gauge(m.MODEL_INFO, "model versions in service", tag_keys=("model_version", "arm"))
        self.threshold = metrics.Gauge(m.THRESHOLD, "threshold in force", tag_keys=("service", "source"))
        self.page_everything = metrics.Gauge(m.PAGE_EVERYTHING, "the page-everything switch is on (1) or off (0)")
        self.live_safety_paused = metrics.Gauge(
            m.LIVE_SAFETY_PAUSED, "live safety keeps the service from suppressing (1) or not (0)", tag_keys=("service",)
        )
        self.training_last_run = metrics.Gauge(m.TRAINING_LAST_RUN, "last retraining start (unix seconds)")
        self.training_duration = metrics.Gauge(m.TRAINING_LAST_DURATION, "last retraining duration (seconds)")
        self.training_success = metrics.Gauge(m.TRAINING_LAST_SUCCESS, "last retraining succeeded (1) or not (0)")
        self.training_last_success_time = metrics.Gauge(
            m.TRAINING_LAST_SUCCESS_TIME, "finish of the last successful retraining (unix seconds)"
        )
        self.training_rows = metrics.Gauge(m.TRAINING_ROWS, "rows in the last training window")


@cache
def telemetry() -> Telemetry:
    return Telemetry()
