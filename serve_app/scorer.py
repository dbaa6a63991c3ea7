"""The model deployments: one per served version (champion, challenger). Each turns alerts and their
context rows (the router's ``StreamContext``) into decisions with the core ``Decider``. Per-text features
come from ``EmbedderLookup``, the ``TextLookup`` over the Embedder deployment: remembered per text, filled
at model load with every text the model knows (one batched Embedder call), so a familiar alert is decided
here without another hop; a text not seen before costs one Embedder call, once, which embeds it and looks
up its neighbours (batched with the other scorers' and requests' new texts). Familiar texts never wait on
the Embedder: a request's new texts wait for it at most ``embedder_wait_s`` (the lookup carries on, to be
remembered for the next alerts), and past that, or when the Embedder fails, those alerts alone page (fail
open, "embedder unavailable") while the others keep their model decisions. The model reference comes from
user_config, so `serve deploy` with a new version swaps the model in place; threshold overrides are re-read
every few seconds."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from alertsieve.bundle import ModelBundle
from alertsieve.contracts import Arm
from alertsieve.decider import Decider, fail_open
from alertsieve.override_scope import Overrides
from alertsieve.schema import Alert, Decision
from alertsieve.text_features import Pending, TextFeatures, TextRows
from serve_app.config import ScorerConfig
from serve_app.loading import load_model, stable_ref
from serve_app.telemetry import telemetry
from serve_app.views import ModelView

if TYPE_CHECKING:
    from serve_app.embedder import Embedder

Loader = Callable[[str], ModelBundle]
OverridesReader = Callable[[], Overrides | dict[str, float]]  # a plain dict: unscoped, never expiring
PROBE_TEXT = "alertsieve readiness probe"
MAX_BACKGROUND_FILLS = 64  # Embedder lookups still running after their request stopped waiting


def no_overrides() -> Overrides:
    return Overrides()


class EmbedderLookup:
    """``TextLookup`` of one served model over the Embedder deployment: ``lookup`` answers from the per-text
    memory, which ``load`` (every text the model knows) and ``fill`` (a request's new texts) fill through
    the Embedder. Lookups and hits are counted in the scorer's telemetry."""

    def __init__(
        self, embedder: DeploymentHandle[Embedder], decider: Decider, ref: str, filling: set[asyncio.Task[None]]
    ) -> None:
        self.embedder, self.ref, self.filling = embedder, ref, filling
        self.encoder = decider.featurizer.config.encoder
        self.memory = TextFeatures(decider.featurizer.index)
        self.loaded = False

    def lookup(self, texts: Sequence[str]) -> TextRows:
        """Features of remembered texts (KeyError for one that is not: ``fill`` first)."""
        return self.memory.rows(texts)

    def remembered(self, text: str) -> bool:
        return self.memory.remembered(text)

    async def load(self) -> None:
        """Every text the model knows remembered and its encoder warm in the Embedder (once per model, at
        first use: readiness or the first alert)."""
        if self.loaded:
            return
        self.loaded = True
        try:
            await self._fill(self.memory.prefill())
            # the Embedder loads the model's encoder now, not on the first new text (under a timeout)
            await self.embedder.features.remote((self.encoder, self.ref, [PROBE_TEXT]))
        except BaseException:
            self.loaded = False
            raise

    async def fill(self, texts: Sequence[str], wait_s: float) -> bool:
        """Whether every text of ``texts`` is remembered within ``wait_s``. A lookup still running then
        carries on in the background (at most MAX_BACKGROUND_FILLS of them: beyond, none is started)."""
        pending = self.memory.pending(texts)
        telemetry().cache_lookups.inc(len(texts))
        if pending.hits:
            telemetry().cache_hits.inc(pending.hits)
        if not pending.lookup:
            return True
        if len(self.filling) >= MAX_BACKGROUND_FILLS:
            return False
        fill = asyncio.ensure_future(self._fill(pending))
        self.filling.add(fill)
        fill.add_done_callback(self._fill_done)
        done, _ = await asyncio.wait({fill}, timeout=wait_s)
        return fill in done and not fill.cancelled() and fill.exception() is None

    async def _fill(self, pending: Pending, chunk: int = 4096) -> None:
        """Features of every pending text in one Embedder call per chunk (it embeds the texts the model
        never saw and looks up all of them), remembered."""
        for part in pending.chunks(chunk):
            vectors, neighbour_rows, sims, ids = await self.embedder.features.remote(
                (self.encoder, self.ref, part.lookup)
            )
            self.memory.remember(part.lookup, vectors, neighbour_rows, sims, ids)

    def _fill_done(self, fill: asyncio.Task[None]) -> None:
        self.filling.discard(fill)
        if not fill.cancelled() and fill.exception() is not None:  # retrieved: the texts page meanwhile
            telemetry().errors.inc(tags={"stage": "embedder"})


@dataclass(frozen=True)
class ServedModel:
    """The model in service: its decider and its per-text lookup."""

    decider: Decider
    lookup: EmbedderLookup
    ref: str


@serve.deployment(
    name="Scorer",
    ray_actor_options={"num_cpus": 0.2},
    max_ongoing_requests=32,  # at least the autoscaling target, or Serve never scales (its default is 5)
    max_queued_requests=256,  # per caller, as many as the Ingress has in flight: beyond, that request fails open
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 8},
)
class ModelScorer:
    def __init__(
        self,
        embedder: DeploymentHandle[Embedder],
        loader: Loader = load_model,
        overrides: OverridesReader = no_overrides,
        overrides_refresh_s: float = 2.0,
    ) -> None:
        self.embedder = embedder
        self.loader, self.read_overrides, self.refresh_s = loader, overrides, overrides_refresh_s
        self.config: ScorerConfig | None = None
        self.served: ServedModel | None = None
        self.overrides = Overrides()
        self.overrides_at = 0.0
        self.filling: set[asyncio.Task[None]] = set()  # Embedder lookups in flight
        threading.Thread(target=self._export_gauges, daemon=True, name="model-gauges").start()

    def reconfigure(self, user_config: dict[str, object]) -> None:
        config = ScorerConfig.model_validate(user_config)
        if self.config is None or config.model != self.config.model:
            bundle = self.loader(config.model)
            decider, ref = Decider(bundle), stable_ref(config.model, bundle)
            self.served = ServedModel(decider, EmbedderLookup(self.embedder, decider, ref, self.filling), ref)
        self.config = config
        self.overrides_at = 0.0  # re-read overrides and export thresholds for the new model

    def _current_overrides(self) -> Overrides:
        """The overrides and switch as last read (re-read every refresh_s); expiry is checked per decision."""
        now = time.monotonic()
        if now - self.overrides_at >= self.refresh_s:
            self.overrides_at = now
            try:
                self.overrides = Overrides.of(self.read_overrides())
            except Exception:  # noqa: BLE001 - keep the last good overrides
                telemetry().errors.inc(tags={"stage": "overrides"})
        return self.overrides

    def _export_gauges(self) -> None:
        """Model in service and thresholds in force, set every second: Ray exports a gauge only
        while it is being set."""
        while True:
            try:
                self._set_gauges()
            except Exception:  # noqa: BLE001 - metrics must never hurt scoring
                telemetry().errors.inc(tags={"stage": "gauges"})
            time.sleep(1.0)

    def _set_gauges(self) -> None:
        if self.served is None or self.config is None:
            return
        decider = self.served.decider
        telemetry().model_info.set(1.0, tags={"model_version": decider.version, "arm": self.config.arm})
        if self.config.arm != Arm.CHAMPION:
            return
        policy = decider.bundle.meta.policy
        telemetry().page_everything.set(1.0 if self.overrides.switch_on() else 0.0)
        for service in policy.known_services:  # scoped overrides are per alert: the gauge shows unscoped ones
            threshold, source = policy.threshold_for(service, self.overrides) or (0.0, "unknown")
            telemetry().threshold.set(threshold, tags={"service": service or "unknown", "source": source})

    async def _loaded(self) -> tuple[ServedModel, ScorerConfig]:
        """The model in service, its known texts remembered (see ``EmbedderLookup.load``)."""
        served, config = self.served, self.config
        if served is None or config is None:
            raise RuntimeError("no model loaded")
        await served.lookup.load()
        return served, config

    async def score(self, alerts: list[Alert], context_rows: np.ndarray) -> list[Decision]:
        served, config = await self._loaded()
        decider, lookup = served.decider, served.lookup
        texts = decider.featurizer.texts(alerts)
        if await lookup.fill(texts, config.embedder_wait_s):
            return decider.decide(
                alerts, context_rows, lookup.lookup(texts), arm=config.arm, overrides=self._current_overrides()
            )
        ready = [i for i, text in enumerate(texts) if lookup.remembered(text)]
        out: list[Decision | None] = [None] * len(alerts)
        if ready:
            decided = decider.decide(
                [alerts[i] for i in ready],
                context_rows[ready],
                lookup.lookup([texts[i] for i in ready]),
                arm=config.arm,
                overrides=self._current_overrides(),
            )
            for i, decision in zip(ready, decided, strict=True):
                out[i] = decision
        unavailable = [i for i, decision in enumerate(out) if decision is None]
        telemetry().fail_open.inc(len(unavailable), tags={"reason": "embedder"})
        for i in unavailable:
            out[i] = fail_open(
                alerts[i], decider.service_of(alerts[i]), decider.version, "embedder unavailable", config.arm
            )
        return [d for d in out if d is not None]

    async def describe(self) -> ModelView:
        """Model version, arm and the thresholds in force (for the UI and readiness)."""
        served, config = await self._loaded()
        policy = served.decider.bundle.meta.policy
        return ModelView(
            model_version=served.decider.version,
            arm=config.arm,
            ref=served.ref,
            pooled_threshold=policy.pooled.threshold,
            thresholds={s: c.threshold for s, c in policy.services.items()},
            known_services=policy.known_services,
            overrides=self._current_overrides().unscoped(),
            scoped_overrides=self._current_overrides().model_dump(mode="json"),
            notes=policy.notes,
        )
