"""The typed answers about the models in service: what one model deployment describes (``ModelView``),
the router's split with both arms (``ModelsView``, GET /v1/models, read by the threshold UI) and
readiness (``ReadyView``, GET /readyz). A view without a challenger leaves the key out of its JSON: the
routes answer with ``response_model_exclude_unset``, and ``ModelsView.of`` sets the challenger only when
there is one."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from alertsieve.contracts import Arm, RouterMode


class ModelView(BaseModel):
    """One model deployment: its model, its arm and the thresholds in force."""

    model_version: str
    arm: Arm = Arm.CHAMPION
    ref: str = Field(description="the stable model reference the scorer loaded (a version, or a bundle dir)")
    pooled_threshold: float
    thresholds: dict[str, float] = Field(description="per service: its own optimised threshold")
    known_services: list[str]
    overrides: dict[str, float] = Field(description="unscoped overrides in force at the scorer's last read")
    scoped_overrides: dict[str, Any] = Field(default_factory=dict, description="every override and the switch")
    notes: dict[str, str] = Field(default_factory=dict, description="per service: why it suppresses what it does")


class ModelsView(BaseModel):
    """The split and the model each arm serves."""

    mode: RouterMode = "off"
    challenger_weight: float = 0.0
    champion: ModelView
    challenger: ModelView | None = Field(default=None, description="absent when no challenger is served")

    @classmethod
    def of(cls, mode: RouterMode, weight: float, champion: ModelView, challenger: ModelView | None) -> ModelsView:
        view = cls(mode=mode, challenger_weight=weight, champion=champion)
        if challenger is not None:
            view.challenger = challenger  # set only when served: left out of the JSON otherwise
        return view


class ReadyView(BaseModel):
    """Every deployment can score. Only that: the models, their thresholds and services are GET /v1/models,
    which ``protect_reads`` guards (probes carry no token, so /readyz is open and says nothing more)."""

    status: Literal["ready"]
