"""The default model loader of the deployments: a registered version (alias, number, URI) or a bundle
directory, through the same ``registry.load_registered`` that `alertsieve score` uses. Tests inject
their own loader to serve a small model."""

from __future__ import annotations

from pathlib import Path

from alertsieve import registry
from alertsieve.bundle import ModelBundle
from alertsieve.settings import get_settings


def load_model(ref: str) -> ModelBundle:
    return registry.load_registered(get_settings(), ref)


def stable_ref(requested: str, bundle: ModelBundle) -> str:
    """A reference that names exactly this bundle: its directory, or its registry version number."""
    return requested if Path(requested).is_dir() else bundle.version
