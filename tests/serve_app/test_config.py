"""serve_config.yaml's args reach the typed builder the way `serve run` / `serve deploy` pass them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from ray.serve import Application
from ray.serve._private.api import call_user_app_builder_with_args_if_necessary

from serve_app.app import build_app
from serve_app.config import AppArgs

CONFIG = Path(__file__).resolve().parents[2] / "serve_config.yaml"


def config_args() -> dict:
    (app,) = yaml.safe_load(CONFIG.read_text())["applications"]
    assert app["import_path"] == "serve_app.app:build_app"
    return dict(app["args"])


def test_serve_validates_the_config_args_into_app_args(monkeypatch) -> None:
    """Serve converts the args dict only when the builder's annotation is the pydantic class itself
    (a string annotation, as `from __future__ import annotations` makes, would hand it a plain dict)."""
    seen: list[object] = []
    monkeypatch.setattr(
        "serve_app.app.build_app_with", lambda args, *rest: seen.append(args) or Application.__new__(Application)
    )
    call_user_app_builder_with_args_if_necessary(build_app, config_args())
    assert isinstance(seen[0], AppArgs)
    assert seen[0].champion == "champion" and seen[0].router.mode == "off"


def test_bad_config_args_are_refused_with_the_field(monkeypatch) -> None:
    monkeypatch.setattr("serve_app.app.build_app_with", lambda *args: pytest.fail("must not build"))
    with pytest.raises(ValidationError, match="needs a challenger model"):
        call_user_app_builder_with_args_if_necessary(build_app, {**config_args(), "router": {"mode": "ab"}})
    with pytest.raises(ValidationError, match="score_timeout_s"):
        call_user_app_builder_with_args_if_necessary(build_app, {**config_args(), "score_timeout_s": -1})
