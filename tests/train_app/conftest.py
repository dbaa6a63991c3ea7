"""Fixtures of the retraining tests: an isolated registered model name per test, S3 settings in-process."""

from __future__ import annotations

import uuid

import pytest

from alertsieve.settings import Settings, get_settings
from tests.conftest import s3_env


@pytest.fixture
def isolated_model(alertsieve_home, monkeypatch: pytest.MonkeyPatch):  # -> Settings
    """Settings whose registered model (and MLflow experiment) is this test's own, so aliases set here
    never touch the session's champion."""
    monkeypatch.setenv("ALERTSIEVE_MODEL_NAME", f"alertsieve-test-{uuid.uuid4().hex[:8]}")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def s3(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto endpoint, with boto3/MLflow/pyarrow pointed at it in this process."""
    for name, value in s3_env(moto_s3).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return moto_s3


def settings_now() -> Settings:
    get_settings.cache_clear()
    return get_settings()
