"""The one typed settings object, read from the environment (ALERTSIEVE_* and MLflow's own variables).

Build it once with ``get_settings()``; nothing here touches the disk at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from alertsieve.schema import DEFAULT_SERVICE_LABELS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTSIEVE_", extra="ignore")

    home: Path = Field(default=Path("~/.alertsieve"), description="embedded state: MLflow, logs, feedback")
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "ALERTSIEVE_MLFLOW_TRACKING_URI")
    )
    artifact_root: str | None = Field(default=None, description="MLflow artifact root, e.g. s3://bucket/prefix")
    model_name: str = "alertsieve"
    service_labels: tuple[str, ...] = DEFAULT_SERVICE_LABELS
    fnr_budget: float = Field(default=0.015, gt=0.0, lt=1.0)
    stream_memory: int = Field(
        default=500_000,
        ge=1_000,
        description="fingerprints (and alert names per host, per service) the live stream context remembers",
    )
    api_token: SecretStr | None = Field(default=None, description="bearer token for every write")
    webhook_token: SecretStr | None = Field(
        default=None, description="bearer token Alertmanager's http_config sends to /v1/alertmanager (not for writes)"
    )
    webhook_user: str | None = Field(default=None, description="basic-auth user accepted on /v1/alertmanager")
    webhook_password: SecretStr | None = Field(default=None, description="basic-auth password for webhook_user")
    state_uri: str | None = Field(default=None, description="decision log and feedback: a dir or s3://bucket/prefix")
    host: str = Field(
        default="127.0.0.1", min_length=1, description="where Serve's HTTP proxy binds (0.0.0.0 in a pod)"
    )
    port: int = Field(default=8000, ge=1, le=65535, description="Serve's HTTP port")
    encoder_runtime: Literal["auto", "onnx", "torch"] = Field(
        default="auto", description="MiniLM runtime: auto = ONNX Runtime on CPU, torch on GPU"
    )
    encoder_cache: Path | None = Field(default=None, description="where the ONNX encoder is cached (home/encoders)")
    live_safety: bool = Field(
        default=True,
        description="the Serve app's live-safety pause (alertsieve.live_safety) where its config leaves it unset",
    )

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def encoder_dir(self) -> Path:
        """Where the ONNX export of the encoder is cached."""
        return self.encoder_cache.expanduser() if self.encoder_cache else self.home_dir / "encoders"

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.home_dir / 'mlflow.db'}"

    @property
    def artifact_location(self) -> str:
        return self.artifact_root or (self.home_dir / "mlartifacts").as_uri()

    @property
    def state_location(self) -> str:
        return self.state_uri or str(self.home_dir / "state")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
