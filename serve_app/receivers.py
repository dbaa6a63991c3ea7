"""Where pages go: the typed config of the downstream receivers, their routing, credentials and TLS.

A receiver is one of three kinds (``kind``): ``pagerduty`` (Events API v2), ``webhook`` (an
Alertmanager-compatible webhook, today's ``downstream_url``) and ``slack`` (an incoming webhook). Each has
a ``name`` and routing: ``receivers`` (the Alertmanager receiver names, the payload's ``receiver`` field,
it takes) and/or ``matchers`` (label values an alert must all have). A receiver with neither is a
catch-all default. An alert goes to every routed receiver that matches it; an alert no routed receiver
matches goes to the catch-alls; and an alert nothing at all matches goes to every receiver, logged and
counted as ``unrouted``: a gap in the routing must not lose a page.

Secrets never sit in the config: URLs and credentials are read from the environment variables the config
*names* (``url_env``, ``routing_key_env``, ``token_env``, ``username_env``/``password_env``), when a
delivery is made, so a rotated secret needs no redeploy. A variable that is not set fails that delivery
(``MissingCredential``; the webhook then answers 502 and Alertmanager retries), it never silently skips it.
A URL that is not secret (a webhook in the cluster, PagerDuty's public endpoint) may be given inline as
``url``; a Slack URL is its own credential, so Slack takes only ``url_env``.

Each receiver has a timeout, TLS (``verify``, ``ca_file``, an optional client certificate) and a retry
policy, applied by ``serve_app/delivery.py``.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class MissingCredential(RuntimeError):
    """A receiver's config names an environment variable that is not set."""


class RetryPolicy(BaseModel):
    """Retries on 429, 5xx and connection errors: backoff ``backoff_s * 2**n`` (capped), or the
    receiver's Retry-After when it gives one (capped the same)."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=3, ge=1, le=20, description="tries in all, the first included")
    backoff_s: float = Field(default=0.5, ge=0.0, le=60.0, description="wait before the first retry")
    max_backoff_s: float = Field(default=10.0, ge=0.0, le=300.0, description="cap on any wait, Retry-After too")

    def backoff(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        wait = retry_after if retry_after is not None else self.backoff_s * 2**retry
        return max(0.0, min(wait, self.max_backoff_s))


class ReceiverBase(BaseModel):
    """What every kind of receiver has: a name, routing, where it is, timeout, TLS and retries."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    receivers: list[str] = Field(default_factory=list, description="Alertmanager receiver names it takes")
    matchers: dict[str, str] = Field(default_factory=dict, description="labels an alert must all have")
    url: str | None = Field(default=None, description="the endpoint, when it is not a secret")
    url_env: str | None = Field(default=None, description="environment variable holding the endpoint")
    timeout_s: float = Field(default=5.0, gt=0.0, le=120.0)
    verify: bool = Field(default=True, description="verify the server's TLS certificate")
    ca_file: str | None = Field(default=None, description="CA bundle (PEM) to verify the server against")
    cert_file: str | None = Field(default=None, description="client certificate (PEM) for mutual TLS")
    key_file: str | None = Field(default=None, description="the client certificate's key, if not in cert_file")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @model_validator(mode="after")
    def _consistent(self) -> ReceiverBase:
        if not self.verify and self.ca_file:
            raise ValueError(f"receiver {self.name!r}: ca_file is given but verify is false")
        if self.key_file and not self.cert_file:
            raise ValueError(f"receiver {self.name!r}: key_file needs cert_file")
        return self

    @property
    def catch_all(self) -> bool:
        return not self.receivers and not self.matchers

    def routes(self, receiver: str, labels: Mapping[str, object]) -> bool:
        """Whether an alert with these labels, in a notification for ``receiver``, is routed here."""
        if self.catch_all:
            return False
        if self.receivers and receiver not in self.receivers:
            return False
        return all(labels.get(name) == value for name, value in self.matchers.items())

    def endpoint(self) -> str:
        """The URL to post to: from ``url_env`` when given, else ``url``."""
        if self.url_env:
            return env_value(self.url_env, self.name)
        if self.url:
            return self.url
        raise MissingCredential(f"receiver {self.name!r} has no url")

    def headers(self) -> dict[str, str]:
        """Credentials as HTTP headers (none unless the kind has some)."""
        return {}

    def tls(self) -> ssl.SSLContext | bool:
        """httpx's ``verify``: False, or True for the system's CAs, or a context for a CA file or client cert."""
        if not self.verify:
            return False
        if not self.ca_file and not self.cert_file:
            return True
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    @property
    def default_tls(self) -> bool:
        return self.verify and not self.ca_file and not self.cert_file


class PagerDutyReceiver(ReceiverBase):
    """PagerDuty Events API v2: one trigger or resolve event per alert, deduplicated by fingerprint."""

    kind: Literal["pagerduty"] = "pagerduty"
    url: str | None = PAGERDUTY_EVENTS_URL
    routing_key_env: str = Field(min_length=1, description="environment variable holding the integration key")
    source_labels: list[str] = Field(default_factory=lambda: ["instance", "host", "pod", "job", "service"])

    def routing_key(self) -> str:
        return env_value(self.routing_key_env, self.name)


class WebhookReceiver(ReceiverBase):
    """An Alertmanager-compatible webhook: the notification with only the forwarded alerts, annotated."""

    kind: Literal["webhook"] = "webhook"
    token_env: str | None = Field(default=None, description="environment variable holding a bearer token")
    username_env: str | None = Field(default=None, description="environment variable: basic auth user")
    password_env: str | None = Field(default=None, description="environment variable: basic auth password")

    @model_validator(mode="after")
    def _reachable(self) -> WebhookReceiver:
        if not self.url and not self.url_env:
            raise ValueError(f"receiver {self.name!r}: a webhook needs url or url_env")
        if bool(self.username_env) != bool(self.password_env):
            raise ValueError(f"receiver {self.name!r}: basic auth needs both username_env and password_env")
        if self.token_env and self.username_env:
            raise ValueError(f"receiver {self.name!r}: bearer token or basic auth, not both")
        return self

    def headers(self) -> dict[str, str]:
        if self.token_env:
            return {"authorization": f"Bearer {env_value(self.token_env, self.name)}"}
        if self.username_env and self.password_env:
            pair = f"{env_value(self.username_env, self.name)}:{env_value(self.password_env, self.name)}"
            return {"authorization": f"Basic {base64.b64encode(pair.encode()).decode()}"}
        return {}


class SlackReceiver(ReceiverBase):
    """A Slack incoming webhook: one message per forwarded group."""

    kind: Literal["slack"] = "slack"
    blocks: bool = Field(default=False, description="also send the message as Block Kit blocks")
    max_lines: int = Field(default=50, ge=1, le=500, description="alerts listed one a line; the rest counted")

    @model_validator(mode="after")
    def _secret_url(self) -> SlackReceiver:
        if self.url or not self.url_env:
            raise ValueError(f"receiver {self.name!r}: a Slack webhook URL is a secret: give url_env, not url")
        return self


ReceiverConfig = Annotated[PagerDutyReceiver | WebhookReceiver | SlackReceiver, Field(discriminator="kind")]
AnyReceiver = PagerDutyReceiver | WebhookReceiver | SlackReceiver
DOWNSTREAM = "downstream"  # the name of the receiver ``downstream_url`` stands for


def env_value(name: str, receiver: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise MissingCredential(f"receiver {receiver!r}: environment variable {name} is not set")
    return value


def configured_receivers(
    receivers: Sequence[AnyReceiver], downstream_url: str | None, timeout_s: float
) -> list[AnyReceiver]:
    """The receivers in force: the configured list, plus ``downstream_url`` as a catch-all webhook."""
    out = list(receivers)
    if downstream_url:
        out.append(WebhookReceiver(name=DOWNSTREAM, url=downstream_url, timeout_s=timeout_s))
    names = [r.name for r in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"receiver names must be unique: {', '.join(duplicated)}")
    return out


def route(receivers: Sequence[AnyReceiver], receiver: str, labels: Mapping[str, object]) -> tuple[list[int], bool]:
    """Indices of the receivers an alert goes to, and False when it was unrouted (it then goes to all)."""
    routed = [i for i, r in enumerate(receivers) if r.routes(receiver, labels)]
    if routed:
        return routed, True
    defaults = [i for i, r in enumerate(receivers) if r.catch_all]
    if defaults:
        return defaults, True
    return list(range(len(receivers))), False
