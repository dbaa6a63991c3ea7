"""Scored, labelled alert rows: what threshold tuning and hold checks take as input.

A ``ScoredRow`` is (time, service, score, actionable) of one alert scored by one model. ``decide_alerts``
produces decisions for labelled history with a bundle through the core ``Scorer`` (the same featurisation
and decision path as serving), in time order and without failing open, so an error surfaces instead of
turning into pages. ``ScoredRows`` holds rows as arrays for the window arithmetic of tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from alertsieve.records import paired
from alertsieve.schema import Alert, Decision, LabelledAlert, Reason

if TYPE_CHECKING:  # torch and faiss stay out of Tune's trial processes, which only need the rows
    from alertsieve.bundle import ModelBundle
    from alertsieve.embedding import EmbeddingCache

DAY_S = 86_400.0


class ScoredRow(BaseModel):
    time: datetime
    service: str
    score: float = Field(ge=0.0, le=1.0)
    actionable: bool


@dataclass(frozen=True)
class ScoredRows:
    """Rows as arrays, sorted by time (seconds since the epoch)."""

    times: np.ndarray
    services: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[ScoredRow]) -> ScoredRows:
        order = sorted(range(len(rows)), key=lambda i: rows[i].time)
        return cls(
            times=np.array([rows[i].time.timestamp() for i in order], dtype=np.float64),
            services=np.array([rows[i].service for i in order], dtype=object),
            scores=np.array([rows[i].score for i in order], dtype=np.float64),
            labels=np.array([rows[i].actionable for i in order], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.times)

    def between(self, start: float, end: float) -> ScoredRows:
        """The rows with start <= time < end."""
        mask = (self.times >= start) & (self.times < end)
        return ScoredRows(self.times[mask], self.services[mask], self.scores[mask], self.labels[mask])

    @property
    def span_days(self) -> float:
        return float(self.times[-1] - self.times[0]) / DAY_S if len(self) else 0.0


def decide_alerts(
    bundle: ModelBundle, alerts: Sequence[Alert], cache: EmbeddingCache | None = None, chunk: int = 512
) -> list[Decision]:
    """Decisions for ``alerts`` (in input order), the stream fed in startsAt order from the bundle's snapshot.

    Feed only alerts after the bundle's history: the stream state continues from where training left off.
    """
    from alertsieve.embedding import EmbeddingCache, load_encoder
    from alertsieve.scoring import Scorer

    scorer = Scorer(bundle, cache or EmbeddingCache(load_encoder(bundle.meta.features.encoder)))
    return scorer.decide_stream(alerts, chunk)


def rows_of(alerts: Sequence[LabelledAlert], decisions: Sequence[Decision]) -> list[ScoredRow]:
    """Labelled alerts and their decisions (line by line) as scored rows.

    An alert paged because the model never saw its text gets score 1.0: no threshold suppresses it, the
    same guard training applies when it chooses thresholds. Pairs are checked by ``alertsieve.records.paired``."""
    return [
        ScoredRow(
            time=a.startsAt,
            service=d.service,
            score=1.0 if d.reason_code is Reason.NOVEL else d.score,
            actionable=a.actionable,
        )
        for a, d in paired(alerts, decisions)
    ]
