"""The typed app builder that serve_config.yaml names: ``serve_app.app:build_app``.

It wires Ingress (HTTP, and the router: stream context and champion/challenger split) -> Scorer
(champion, optional challenger) -> Embedder (embedding and neighbour lookup of texts a scorer has not
seen, in one call) from ``AppArgs``; the models, the split and the mode become user_config, so
`serve deploy` with new args updates them in place.
With ``stream_shards`` > 1 the router moves out of the Ingress into that many ``StreamShard`` deployments
(``serve_app/stream_shard.py``, ``serve_app/shards.py``), and the Ingress gets ``ingress_replicas`` replicas. ``build_app_with`` takes the model loader (and threshold overrides
reader) as arguments, so tests can serve a small model through the same graph.

No ``from __future__ import annotations`` here: Serve validates the args into ``AppArgs`` only when the
builder's annotation is the class itself, not a string.
"""

from collections.abc import Callable
from typing import Any, cast

from ray.serve import Application
from ray.serve.deployment import Deployment

from alertsieve.bundle import ModelBundle
from alertsieve.contracts import Arm
from serve_app.config import AppArgs
from serve_app.embedder import Embedder
from serve_app.ingress import Ingress
from serve_app.loading import load_model
from serve_app.scorer import ModelScorer, OverridesReader, no_overrides
from serve_app.shards import shard_name
from serve_app.stream_shard import StreamShard


def build_app_with(
    args: AppArgs,
    loader: Callable[[str], ModelBundle] = load_model,
    overrides: OverridesReader = no_overrides,
) -> Application:
    embedder = _deployment(Embedder).bind(loader)

    def scorer(arm: Arm, model: str) -> Application:
        config = args.scorer_config(model, arm)
        return (
            _deployment(ModelScorer)
            .options(name=f"{arm.capitalize()}Scorer", user_config=config.model_dump(mode="json"))
            .bind(embedder, loader, overrides, args.overrides_refresh_s)
        )

    champion = scorer(Arm.CHAMPION, args.champion)
    challenger = scorer(Arm.CHALLENGER, args.challenger) if args.challenger else None
    ingress = _deployment(Ingress).options(user_config=args.ingress_config().model_dump())
    if args.stream_shards <= 1:  # the router in the Ingress: no extra hop, one writer
        return ingress.bind(champion, challenger, args.champion, loader)
    n, shard_config = args.stream_shards, args.shard_config().model_dump(mode="json")
    shards = [
        _deployment(StreamShard)
        .options(name=shard_name(i), user_config=shard_config)
        .bind(champion, challenger, args.champion, loader, i, n)
        for i in range(n)
    ]
    return ingress.options(num_replicas=args.ingress_replicas).bind(champion, challenger, args.champion, loader, shards)


def _deployment(decorated: Any) -> Deployment:
    """@serve.deployment turns each class into a Deployment; tell the type checker so."""
    return cast(Deployment, decorated)


def build_app(args: AppArgs) -> Application:
    """Entry point for `serve run` / `serve deploy` (args validated by Serve against AppArgs)."""
    from thresholds.overrides import overrides_reader

    return build_app_with(args, load_model, overrides_reader())
