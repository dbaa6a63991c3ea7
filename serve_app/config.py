"""Typed configuration of the Serve application: the app's arguments from serve_config.yaml and the
user_config of each deployment derived from them (changed by `serve deploy` without a restart)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, NonNegativeFloat, ValidationInfo, field_validator, model_validator

from alertsieve.contracts import Arm, RouterConfig, ServeArgs
from alertsieve.live_safety import LiveSafetyParams
from alertsieve.settings import get_settings
from serve_app.receivers import ReceiverConfig, configured_receivers, delivery_problem

__all__ = [
    "AppArgs",
    "IngressConfig",
    "LiveSafetyConfig",
    "RouterConfig",
    "ScorerConfig",
    "ShardConfig",
    "config_problem",
    "readiness_problem",
]


class LiveSafetyConfig(LiveSafetyParams):
    """The router's live-safety watch (``serve_app/live_watch.py``): its bounds, and whether it acts."""

    enabled: bool | None = Field(default=None, description="unset: ALERTSIEVE_LIVE_SAFETY (default on)")

    @property
    def on(self) -> bool:
        return get_settings().live_safety if self.enabled is None else self.enabled


class ScorerConfig(BaseModel):
    """Which registered model a scorer deployment serves: alias, version number or bundle dir."""

    model: str
    arm: Literal[Arm.CHAMPION, Arm.CHALLENGER] = Arm.CHAMPION
    embedder_wait_s: float = Field(
        default=1.0, gt=0, description="how long new texts wait for the Embedder before they fail open (page)"
    )


class IngressConfig(BaseModel):
    """The HTTP side: the Ingress deployment's user_config, updated in place by `serve deploy`."""

    downstream_url: str | None = Field(
        default=None, description="shorthand for one catch-all webhook receiver (the team's real Alertmanager receiver)"
    )
    receivers: list[ReceiverConfig] = Field(
        default_factory=list, description="PagerDuty, webhook and Slack receivers (serve_app/receivers.py)"
    )

    @model_validator(mode="after")
    def _receiver_names_unique(self) -> IngressConfig:
        configured_receivers(self.receivers, self.downstream_url, self.forward_timeout_s)  # raises on duplicates
        return self

    score_timeout_s: float = Field(default=2.0, gt=0)
    snapshot_every_s: float = Field(
        default=60.0, gt=0, description="how often, at most, the stream context and decision memory are snapshotted"
    )
    forward_timeout_s: float = Field(default=5.0, gt=0)
    delivery_deadline_s: float = Field(
        default=10.0,
        gt=0,
        le=60.0,
        description="how long a webhook request may spend delivering (rate limit waits, 429 backoff); what does not "
        "fit goes to the durable retry outbox and is sent later (keep it under Alertmanager's webhook timeout)",
    )
    resend_memory_s: float = Field(
        default=900.0,
        ge=0,
        description="how long a receiver's delivery of an alert is remembered, so a resend after a partial failure "
        "sends only what failed (keep it under Alertmanager's repeat_interval, whose reminders are sent again)",
    )
    external_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://",
        max_length=500,
        description="alertsieve's URL as people reach it: the base of the 'why' link in every page",
    )
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    max_alerts_per_request: int = Field(default=1000, ge=1)
    protect_scoring: bool = Field(default=False, description="require the bearer token on scoring routes too")
    protect_reads: bool = Field(default=False, description="require the bearer token on every GET under /v1/")
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host header values accepted ('*' any, '*.example.com' subdomains); unset: loopback names and "
        "ALERTSIEVE_HOST, or any host when that binds every interface (serve_app/guards.py)",
    )
    router: RouterConfig = Field(default_factory=RouterConfig)
    page_after_minutes: float = Field(
        default=60.0, ge=0, description="page a suppressed webhook alert still firing this long after it began"
    )
    page_after_by_service: dict[str, NonNegativeFloat] = Field(
        default_factory=dict, description="page_after_minutes per service (0: never for that service)"
    )
    live_safety: LiveSafetyConfig = Field(
        default_factory=LiveSafetyConfig, description="stop suppressing a service whose stream departs from validation"
    )

    def page_after_s(self, service: str) -> float | None:
        """Seconds after its startsAt that a suppressed alert of ``service`` still firing is paged; None: never."""
        minutes = self.page_after_by_service.get(service, self.page_after_minutes)
        return minutes * 60.0 if minutes > 0 else None


class ShardConfig(BaseModel):
    """A stream shard's user_config (``serve_app/stream_shard.py``): the part of the Ingress's config its
    router reads."""

    router: RouterConfig = Field(default_factory=RouterConfig)
    snapshot_every_s: float = Field(default=60.0, gt=0)
    page_after_minutes: float = Field(default=60.0, ge=0)
    page_after_by_service: dict[str, NonNegativeFloat] = Field(default_factory=dict)
    live_safety: LiveSafetyConfig = Field(default_factory=LiveSafetyConfig)


class AppArgs(IngressConfig, ServeArgs):
    """The arguments of ``serve_app.app:build_app`` (the ``args`` block of serve_config.yaml): the shared
    ``ServeArgs`` (models and split, which a rollout sets) and the Ingress's config."""

    overrides_refresh_s: float = Field(default=2.0, gt=0)
    embedder_wait_s: float | None = Field(
        default=None, gt=0, description="how long new texts wait for the Embedder; unset: half of score_timeout_s"
    )
    stream_shards: int = Field(
        default=1,
        ge=1,
        le=16,
        description="stream context shards by service (serve_app/shards.py); 1: the router lives in the Ingress",
    )
    ingress_replicas: int = Field(default=1, ge=1, description="Ingress replicas; more than 1 needs stream_shards > 1")

    @field_validator("ingress_replicas")
    @classmethod
    def _one_writer(cls, value: int, info: ValidationInfo) -> int:
        if value > 1 and info.data.get("stream_shards", 1) <= 1:
            raise ValueError("more than one Ingress replica needs stream_shards > 1 (the Ingress holds the stream)")
        return value

    def shard_config(self) -> ShardConfig:
        return ShardConfig.model_validate(self.model_dump(include=set(ShardConfig.model_fields)))

    def scorer_config(self, model: str, arm: Arm) -> ScorerConfig:
        wait = self.embedder_wait_s or self.score_timeout_s / 2  # familiar texts are decided without waiting
        return ScorerConfig.model_validate({"model": model, "arm": arm, "embedder_wait_s": wait})

    @model_validator(mode="after")
    def _challenger_needed(self) -> AppArgs:
        if self.router.mode != "off" and not self.challenger:
            raise ValueError(f"router mode {self.router.mode!r} needs a challenger model")
        return self

    def ingress_config(self) -> IngressConfig:
        return IngressConfig.model_validate(self.model_dump(include=set(IngressConfig.model_fields)))


def readiness_problem(config: IngressConfig, token: str | None) -> str | None:
    """Why the Ingress is not ready (/readyz answers 503 with it): its config cannot accept alerts, or no
    receiver could deliver them (none configured, or a credential variable unset)."""
    receivers = configured_receivers(config.receivers, config.downstream_url, config.forward_timeout_s)
    return config_problem(config, token) or delivery_problem(receivers)


def config_problem(config: IngressConfig, token: str | None) -> str | None:
    """Why an Ingress with this config cannot accept alerts (it then reports not ready), or None."""
    if config.protect_scoring and not token:
        return "protect_scoring is on but ALERTSIEVE_API_TOKEN is not set: no caller could be accepted"
    return None
