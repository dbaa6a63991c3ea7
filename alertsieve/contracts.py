"""The small contracts every room shares, declared once: the arms a decision comes from, the router's
modes, the identity of one occurrence of an alert, and the part of the Serve app's args that a rollout
changes (``ServeArgs``: serve_app's ``AppArgs`` extends it, train_app's promotion produces it, so neither
room needs the other). Nothing here imports the rest of alertsieve."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

RouterMode = Literal["off", "shadow", "ab"]  # off: champion only; shadow: challenger logged only; ab: split
OccurrenceKey = tuple[str, float]  # (fingerprint, startsAt as POSIX seconds): hashable, JSON as a pair


class Arm(StrEnum):
    """Which side of the champion/challenger split decided (serialised, logged and tagged as its value)."""

    CHAMPION = "champion"
    CHALLENGER = "challenger"
    SHADOW = "shadow"  # the challenger's decision in shadow mode: logged, never applied


class Occurrence(NamedTuple):
    """One firing of one alert: Alertmanager re-sends it with the same fingerprint and startsAt. Equal to
    (and hashed as) the plain pair, so it keys maps of either."""

    fingerprint: str
    startsAt: datetime

    @property
    def key(self) -> OccurrenceKey:
        """The occurrence as (fingerprint, POSIX seconds): the key of the serving memory and its snapshot."""
        return (self.fingerprint, self.startsAt.timestamp())


class RouterConfig(BaseModel):
    """How traffic is split between champion and challenger."""

    mode: RouterMode = "off"
    challenger_weight: float = Field(default=0.0, ge=0.0, le=1.0, description="share of fingerprints (ab mode)")


class ServeArgs(BaseModel):
    """The models the Serve app serves and their split: the args of ``serve_app.app:build_app`` that a
    rollout stage sets (``serve_app.config.AppArgs`` adds the rest)."""

    champion: str = "champion"
    challenger: str | None = None
    router: RouterConfig = Field(default_factory=RouterConfig)
