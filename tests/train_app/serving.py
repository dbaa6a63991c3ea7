"""A Serve app builder for the end-to-end test: the real app graph, with a model loader that points each
replica at the test's own registered model and the moto S3 server first (the Ray workers were started
before the test set those variables, so they do not inherit them)."""

from __future__ import annotations

import os
from typing import Any

from ray.serve import Application

from alertsieve.bundle import ModelBundle
from alertsieve.settings import get_settings


class EnvLoader:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, ref: str) -> ModelBundle:
        from serve_app.loading import load_model

        if any(os.environ.get(name) != value for name, value in self.env.items()):
            os.environ.update(self.env)
            get_settings.cache_clear()
        return load_model(ref)


class EnvBuilder:
    """``serve_app.app.build_app`` with the env-setting loader (and no threshold overrides)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, args: dict[str, Any]) -> Application:
        from serve_app.app import build_app_with
        from serve_app.config import AppArgs

        return build_app_with(AppArgs.model_validate(args), loader=EnvLoader(self.env))
