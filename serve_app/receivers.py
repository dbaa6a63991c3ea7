"""Where pages go: the typed config of the downstream receivers, their routing, credentials and TLS.

A receiver is one of four kinds (``kind``): ``pagerduty`` (Events API v2), ``webhook`` (an
Alertmanager-compatible webhook, today's ``downstream_url``), ``slack`` (an incoming webhook) and ``file``
(JSON lines appended to a local file: the demo's stand-in pager, ``make run``). Each has a ``name`` and
routing: ``receivers`` (the Alertmanager receiver names, the payload's ``receiver`` field, it takes) and/or
``matchers`` (Alertmanager's ``=``, ``!=``, ``=~``, ``!~``, all of which an alert must satisfy:
``serve_app/matchers.py``; a mapping is the older equality form). A receiver with neither is a
catch-all default. An alert goes to every routed receiver that matches it; an alert no routed receiver
matches goes to the catch-alls; and an alert nothing at all matches goes to every receiver, logged and
counted as ``unrouted``: a gap in the routing must not lose a page.

Secrets never sit in the config: URLs and credentials are read from the environment variables the config
*names* (``url_env``, ``routing_key_env``, ``token_env``, ``username_env``/``password_env``), when a
delivery is made, so a rotated secret needs no redeploy. A variable that is not set fails that delivery
(``MissingCredential``; the webhook then answers 503 and Alertmanager retries), it never silently skips it,
and ``/readyz`` reports not ready, naming it (``missing``).
A URL that is not secret (a webhook in the cluster, PagerDuty's public endpoint) may be given inline as
``url``; a Slack URL is its own credential, so Slack takes only ``url_env``.

Each receiver has a timeout, TLS (``verify``, ``ca_file``, an optional client certificate), a retry
policy and an optional rate limit (``serve_app/delivery_policy.py``; ``rate``: PagerDuty's default is its
~120 events a minute per integration key), applied by ``serve_app/posting.py``.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from alertsieve.settings import get_settings
from serve_app.delivery_policy import RateLimit as RateLimit  # re-exported: part of a receiver's config
from serve_app.delivery_policy import RetryPolicy as RetryPolicy
from serve_app.matchers import Matcher, parse_matchers

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class MissingCredential(RuntimeError):
    """A receiver's config names an environment variable that is not set."""


class ReceiverBase(BaseModel):
    """What every kind of receiver has: a name, routing, where it is, timeout, TLS and retries."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    receivers: list[str] = Field(default_factory=list, description="Alertmanager receiver names it takes")
    matchers: dict[str, str] | list[str] = Field(
        default_factory=dict,
        description='label matchers an alert must all satisfy: ["severity=~\\"critical|page\\"", "team!=\\"db\\""] '
        "(Alertmanager's = != =~ !~, regexes fully anchored), or a mapping of label values (equality)",
    )
    url: str | None = Field(default=None, description="the endpoint, when it is not a secret")
    url_env: str | None = Field(default=None, description="environment variable holding the endpoint")
    timeout_s: float = Field(default=5.0, gt=0.0, le=120.0)
    verify: bool = Field(default=True, description="verify the server's TLS certificate")
    ca_file: str | None = Field(default=None, description="CA bundle (PEM) to verify the server against")
    cert_file: str | None = Field(default=None, description="client certificate (PEM) for mutual TLS")
    key_file: str | None = Field(default=None, description="the client certificate's key, if not in cert_file")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    rate: RateLimit | None = Field(default=None, description="a rate limit; unset: none (PagerDuty: 120 a minute)")
    _matchers: tuple[Matcher, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _consistent(self) -> ReceiverBase:
        try:
            self._matchers = parse_matchers(self.matchers)  # compiled once, when the config is read
        except ValueError as exc:
            raise ValueError(f"receiver {self.name!r}: {exc}") from None
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
        return all(m.matches(labels) for m in self._matchers)

    def credential_envs(self) -> list[str]:
        """The environment variables a delivery reads."""
        return [self.url_env] if self.url_env else []

    def missing(self) -> list[str]:
        """The environment variables this receiver needs that are not set (then it cannot deliver)."""
        return [name for name in self.credential_envs() if not os.environ.get(name)]

    @property
    def rate_key_env(self) -> str | None:
        """The variable whose value keys the rate limiter (PagerDuty: the integration key); None: the name."""
        return None

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
    """PagerDuty Events API v2: one event per Alertmanager group (``mode: group``) or per alert."""

    kind: Literal["pagerduty"] = "pagerduty"
    url: str | None = PAGERDUTY_EVENTS_URL
    routing_key_env: str = Field(min_length=1, description="environment variable holding the integration key")
    source_labels: list[str] = Field(default_factory=lambda: ["instance", "host", "pod", "job", "service"])
    mode: Literal["group", "alert"] = Field(
        default="group",
        description="group (the default): one event per Alertmanager notification group, dedup_key = its groupKey, "
        "the paged alerts in custom_details; what Alertmanager's own PagerDuty integration does, so incidents look "
        "as they did without alertsieve, and a storm is one event per group instead of one per alert, which is what "
        "keeps it under PagerDuty's ~120 events a minute. alert: one event per alert, dedup_key = its fingerprint "
        "(an incident per alert, resolved one by one)",
    )
    rate: RateLimit | None = Field(default_factory=lambda: RateLimit(per_minute=120, burst=10))

    def routing_key(self) -> str:
        return env_value(self.routing_key_env, self.name)

    def credential_envs(self) -> list[str]:
        return [*super().credential_envs(), self.routing_key_env]

    @property
    def rate_key_env(self) -> str | None:
        return self.routing_key_env


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

    def credential_envs(self) -> list[str]:
        named = [self.token_env, self.username_env, self.password_env]
        return [*super().credential_envs(), *(n for n in named if n)]

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


class FileReceiver(ReceiverBase):
    """JSON lines appended to a local file, one per notification (the webhook payload, annotated): a
    stand-in pager for the demo (``make run``) or an archive. No HTTP: url, TLS and retries do not apply."""

    kind: Literal["file"] = "file"
    path: str | None = Field(default=None, description="the file; unset: $ALERTSIEVE_HOME/pages.jsonl")

    def endpoint(self) -> str:
        if self.path:
            return str(Path(self.path).expanduser())
        return str(get_settings().home_dir / "pages.jsonl")


ReceiverConfig = Annotated[
    PagerDutyReceiver | WebhookReceiver | SlackReceiver | FileReceiver, Field(discriminator="kind")
]
AnyReceiver = PagerDutyReceiver | WebhookReceiver | SlackReceiver | FileReceiver
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


def delivery_problem(receivers: Sequence[AnyReceiver]) -> str | None:
    """Why alerts cannot be delivered (the webhook then answers 503, /readyz not ready), or None."""
    if not receivers:
        return (
            "no receiver configured: set receivers (pagerduty, slack, webhook or file) or downstream_url in the "
            "Serve config's args; without one every page would be lost"
        )
    missing = [
        f"receiver {r.name!r}: environment variable {', '.join(r.missing())} not set" for r in receivers if r.missing()
    ]
    return "; ".join(missing) or None


def route(receivers: Sequence[AnyReceiver], receiver: str, labels: Mapping[str, object]) -> tuple[list[int], bool]:
    """Indices of the receivers an alert goes to, and False when it was unrouted (it then goes to all)."""
    routed = [i for i, r in enumerate(receivers) if r.routes(receiver, labels)]
    if routed:
        return routed, True
    defaults = [i for i, r in enumerate(receivers) if r.catch_all]
    if defaults:
        return defaults, True
    return list(range(len(receivers))), False
