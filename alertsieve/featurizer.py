"""The fitted featurisation of one model: alerts in, the classifier's inputs out.

A ``Featurizer`` is a ``FeatureConfig``, the ``Scaler`` fitted on training rows and the ``PrototypeIndex``
of the training texts. ``fit`` builds it from labelled history (context replay, texts, embeddings, the
neighbour index, past-only neighbour features for the rows it fits on, the scaler) and hands back the rows
training feeds the classifier; ``transform`` turns alerts with their context rows and per-text features
(``TextRows``, or a ``TextLookup`` that gives them) into the same inputs. Training, in-process scoring and
the Serve model deployments all use it, so a feature change touches this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from alertsieve.context import StreamState, replay
from alertsieve.embedding import EmbeddingCache
from alertsieve.featurize import FeatureConfig, Scaler, identities_of, texts_of
from alertsieve.identity import detect_environment_labels
from alertsieve.lexical import lexical_rows
from alertsieve.neighbours import PrototypeIndex, build_prototypes, past_only_features
from alertsieve.schema import Alert, LabelledAlert
from alertsieve.text_features import Pending, TextFeatures, TextLookup, TextRows

if TYPE_CHECKING:
    from alertsieve.bundle import ModelBundle

Progress = Callable[[str], None]


class ModelInputs(NamedTuple):
    """What the classifier takes: scaled dense features and the embeddings (no columns if unused)."""

    dense: np.ndarray
    embedding: np.ndarray


@dataclass(frozen=True)
class FittedHistory:
    """What ``Featurizer.fit`` computed for every history row (time order): the first ``fit_rows`` fitted the
    index and the scaler, the rest were featurised as serving would (neighbours from the frozen counts)."""

    fit_rows: int
    context_rows: np.ndarray
    state: StreamState  # the stream after the whole history (the bundle's snapshot)
    texts: list[str]
    identities: list[str]
    inputs: ModelInputs


def dense_rows(config: FeatureConfig, context_rows: np.ndarray, neighbour_rows: np.ndarray) -> np.ndarray:
    """Context and (if used) neighbour features side by side, in ``config.dense_names`` order."""
    if not config.use_neighbours:
        return context_rows.astype(np.float32)
    return np.hstack([context_rows, neighbour_rows]).astype(np.float32)


def model_inputs(
    config: FeatureConfig, scaler: Scaler, dense: np.ndarray, embeddings: np.ndarray, texts: Sequence[str] = ()
) -> ModelInputs:
    """Scaled dense features, and the embeddings (empty if the config does not use them) with the texts'
    lexical rows (``alertsieve.lexical``) beside them."""
    emb = embeddings if config.use_embedding else np.zeros((len(dense), 0), dtype=np.float32)
    if config.lexical_dims:
        emb = np.hstack([emb, lexical_rows(texts, config.lexical_dims)])
    return ModelInputs(scaler.apply(dense), emb.astype(np.float32))


class Featurizer:
    """Config, scaler and index of one model: ``transform`` gives what ``fit`` gave training."""

    def __init__(self, config: FeatureConfig, scaler: Scaler, index: PrototypeIndex) -> None:
        self.config = config
        self.scaler = scaler
        self.index = index

    @classmethod
    def of(cls, bundle: ModelBundle) -> Featurizer:
        """The featurizer a bundle was trained with."""
        return cls(bundle.meta.features, bundle.meta.scaler, bundle.index)

    def texts(self, alerts: Sequence[Alert]) -> list[str]:
        return texts_of(alerts, self.config)

    def identities(self, alerts: Sequence[Alert]) -> list[str]:
        return identities_of(alerts, self.config)

    def transform(
        self, alerts: Sequence[Alert], context_rows: np.ndarray, text_rows: TextRows | TextLookup
    ) -> ModelInputs:
        """Model inputs for ``alerts`` (``text_rows`` given, or looked up by the alerts' texts)."""
        rows = text_rows if isinstance(text_rows, TextRows) else text_rows.lookup(self.texts(alerts))
        dense = dense_rows(self.config, context_rows, rows.neighbour_rows)
        texts = rows.texts if len(rows.texts) == len(alerts) else self.texts(alerts)
        return model_inputs(self.config, self.scaler, dense, rows.embeddings, texts)

    @classmethod
    def fit(
        cls,
        history: Sequence[LabelledAlert],
        fit_rows: int,
        cache: EmbeddingCache,
        config: FeatureConfig | None = None,
        progress: Progress = lambda step: None,
    ) -> tuple[Featurizer, FittedHistory]:
        """Fitted on the first ``fit_rows`` of ``history`` (in time order); environment labels found in them
        join the config's. The later rows are featurised as serving would."""
        config = config or FeatureConfig()
        fit_alerts = history[:fit_rows]
        labels = np.array([a.actionable for a in history], dtype=bool)
        found = detect_environment_labels(fit_alerts, (*config.service_labels, *config.instance_labels))
        config = config.model_copy(update={"environment_labels": tuple(sorted({*config.environment_labels, *found}))})
        progress("context features")
        context_rows, state = replay(history, StreamState(config.service_labels, config.environment_labels))
        identities = identities_of(history, config)
        progress("embeddings")
        texts = texts_of(history, config)
        embeddings = cache.embed(texts)

        progress("neighbour index")
        distinct, row_ids, prototypes = build_prototypes(
            texts[:fit_rows],
            [a.fingerprint for a in fit_alerts],
            [a.alertname for a in fit_alerts],
            labels[:fit_rows].tolist(),
        )
        prior = float(labels[:fit_rows].mean())
        index = PrototypeIndex(cache.embed(distinct), prototypes, prior, config.neighbours_k)
        times = np.array([a.startsAt.timestamp() for a in fit_alerts])
        fit_neighbours = past_only_features(index, row_ids, times, labels[:fit_rows], config.label_delay_hours * 3600)
        later = texts[fit_rows:]  # every later text takes its own embedding, as the classifier does
        _, val_neighbours, _, _ = TextFeatures(index, capacity=0).features(
            Pending(lookup=later, embed=later), embeddings[fit_rows:]
        )
        dense = dense_rows(config, context_rows, np.vstack([fit_neighbours, val_neighbours]))
        scaler = Scaler.fit(dense[:fit_rows])
        fitted = FittedHistory(
            fit_rows=fit_rows,
            context_rows=context_rows,
            state=state,
            texts=texts,
            identities=identities,
            inputs=model_inputs(config, scaler, dense, embeddings, texts),
        )
        return cls(config, scaler, index), fitted
