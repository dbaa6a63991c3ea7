"""Typed configuration of the Serve application: the app's arguments from serve_config.yaml and the
user_config of each deployment derived from them (changed by `serve deploy` without a restart)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

Mode = Literal["off", "shadow", "ab"]


class RouterConfig(BaseModel):
    """How traffic is split between champion and challenger."""

    mode: Mode = "off"
    challenger_weight: float = Field(default=0.0, ge=0.0, le=1.0, description="share of fingerprints (ab mode)")


class ScorerConfig(BaseModel):
    """Which registered model a scorer deployment serves: alias, version number or bundle dir."""

    model: str
    arm: Literal["champion", "challenger"] = "champion"


class IngressConfig(BaseModel):
    """The HTTP side: the Ingress deployment's user_config, updated in place by `serve deploy`."""

    downstream_url: str | None = Field(default=None, description="the team's real Alertmanager receiver")
    score_timeout_s: float = Field(default=2.0, gt=0)
    forward_timeout_s: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    max_alerts_per_request: int = Field(default=1000, ge=1)
    protect_scoring: bool = Field(default=False, description="require the bearer token on scoring routes too")
    router: RouterConfig = Field(default_factory=RouterConfig)


class AppArgs(IngressConfig):
    """The arguments of ``serve_app.app:build_app`` (the ``args`` block of serve_config.yaml)."""

    champion: str = "champion"
    challenger: str | None = None
    overrides_refresh_s: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _challenger_needed(self) -> AppArgs:
        if self.router.mode != "off" and not self.challenger:
            raise ValueError(f"router mode {self.router.mode!r} needs a challenger model")
        return self

    def ingress_config(self) -> IngressConfig:
        return IngressConfig.model_validate(self.model_dump(include=set(IngressConfig.model_fields)))


def config_problem(config: IngressConfig, token: str | None) -> str | None:
    """Why an Ingress with this config cannot accept alerts (it then reports not ready), or None."""
    if config.protect_scoring and not token:
        return "protect_scoring is on but ALERTSIEVE_API_TOKEN is not set: no caller could be accepted"
    return None
