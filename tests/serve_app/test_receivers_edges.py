"""Receivers downstream, the edges: bodies that could not be read, TLS, the receivers' config, the
webhook's own credentials (Alertmanager's http_config), and one page through the session's real Serve app.
The local HTTP receivers stand in for vendors that cannot run here (tests/serve_app/fake_receivers.py)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import ValidationError

from alertsieve.schema import fingerprint_of
from serve_app.config import IngressConfig
from serve_app.delivery import ForwardError, Outbox
from serve_app.receivers import AnyReceiver, PagerDutyReceiver, SlackReceiver, WebhookReceiver
from serve_app.relay import Body, Relay
from tests.serve_app.fake_receivers import (
    FAST,
    FakePagerDuty,
    FakeSlack,
    FakeWebhook,
    alert,
    notification,
    page,
    run,
)


# ---- bodies that could not be read -------------------------------------------------------------------------
async def _chunks(parts: list[bytes]):
    for part in parts:
        yield part


def test_an_unreadable_body_goes_as_it_came_to_webhooks_and_as_a_notice_to_pagers(servers, monkeypatch):
    pagerduty, slack = servers(FakePagerDuty), servers(FakeSlack)
    first, second = servers(FakeWebhook, replies=[(500, {})]), servers(FakeWebhook)
    monkeypatch.setenv("TEST_PD_KEY", "k")
    monkeypatch.setenv("TEST_SLACK_URL", slack.url)
    receivers: list[AnyReceiver] = [
        PagerDutyReceiver(
            mode="alert", name="pd", url=pagerduty.url, routing_key_env="TEST_PD_KEY", matchers={"a": "b"}
        ),
        SlackReceiver(name="slack", url_env="TEST_SLACK_URL"),
        WebhookReceiver(name="one", url=first.url, retry=FAST),
        WebhookReceiver(name="two", url=second.url, receivers=["x"]),
    ]
    body = b'{"version": "4", "alerts": [' + b'{"labels": {"alertname": "Storm"}}, ' * 2000 + b"{}]}"
    parts = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    relay = Relay(None, None, 10, Outbox(receivers))
    reply = run(
        relay.forward_raw(
            Body(b"".join(parts[:3]), _chunks(parts[3:]).__aiter__()), "application/json", "too_large", str(len(body))
        )
    )
    assert reply.as_received and reply.unscored == {"too_large": 1}
    assert [r["data"] for r in first.requests] == [body, body], "spooled: retried whole after the 500"
    assert [r["data"] for r in second.requests] == [body]
    (notice,) = pagerduty.bodies
    assert notice["event_action"] == "trigger" and "too_large" in notice["payload"]["summary"]
    assert "could not read" in slack.bodies[0]["text"]


def test_a_readable_body_refused_for_auth_reaches_pagerduty_as_unscored_alerts(servers, monkeypatch):
    pagerduty, hook = servers(FakePagerDuty), servers(FakeWebhook)
    monkeypatch.setenv("TEST_PD_KEY", "k")
    receivers: list[AnyReceiver] = [
        PagerDutyReceiver(mode="alert", name="pd", url=pagerduty.url, routing_key_env="TEST_PD_KEY"),
        WebhookReceiver(name="hook", url=hook.url),
    ]
    raw = notification("team", [page(alert("A"))])
    raw["alerts"].append("not an alert")
    data = json.dumps(raw).encode()
    run(Relay(None, None, 10, Outbox(receivers)).forward_raw(Body(data), "application/json", "auth", str(len(data))))
    assert [r["data"] for r in hook.requests] == [data]
    malformed, unscored = sorted(pagerduty.bodies, key=lambda e: e["dedup_key"] == alert("A").fingerprint)
    assert unscored["dedup_key"] == alert("A").fingerprint
    assert unscored["payload"]["custom_details"]["reason"] == "not scored: auth, forwarded as it came"
    assert malformed["dedup_key"].startswith("unscored-") and malformed["payload"]["source"] == "alertsieve"
    hook.requests.clear()
    pagerduty.requests.clear()
    empty = b'{"version": "4", "alerts": []}'  # nothing to page: the webhook gets it, PagerDuty nothing
    run(Relay(None, None, 10, Outbox(receivers)).forward_raw(Body(empty), "application/json", "auth", None))
    assert [r["data"] for r in hook.requests] == [empty] and pagerduty.requests == []


# ---- TLS and config -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"


def test_tls_verify_and_ca_file_reach_httpx(servers, self_signed):
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    hook = servers(FakeWebhook, tls=context)
    forwarded = [page(alert("Tls"))]
    with pytest.raises(ForwardError, match="ConnectError"):  # the system's CAs do not know this server
        run(
            Outbox([WebhookReceiver(name="system", url=hook.url, retry=FAST)]).deliver(notification("x", []), forwarded)
        )
    trusted = WebhookReceiver(name="ca", url=hook.url, ca_file=str(cert))
    unchecked = WebhookReceiver(name="off", url=hook.url, verify=False)
    assert isinstance(trusted.tls(), ssl.SSLContext) and unchecked.tls() is False
    shared = httpx.AsyncClient()
    outbox = Outbox([trusted, unchecked, WebhookReceiver(name="plain", url="https://example.invalid")], shared)
    assert outbox.clients["plain"] is shared and outbox.clients["ca"] is not shared
    run(Outbox([trusted, unchecked], shared).deliver(notification("x", []), forwarded))
    assert len(hook.requests) == 2, "trusted through the CA file, and unchecked"
    with pytest.raises(ValidationError, match="verify is false"):
        WebhookReceiver(name="bad", url=hook.url, verify=False, ca_file=str(cert))


def test_receivers_config_as_serve_passes_it_and_the_commented_example():
    config = IngressConfig.model_validate(
        {
            "downstream_url": "http://am/hook",
            "receivers": [
                {"kind": "pagerduty", "name": "pd", "routing_key_env": "PD_KEY", "matchers": {"severity": "critical"}},
                {"kind": "slack", "name": "chat", "url_env": "SLACK_URL", "receivers": ["team-a"]},
            ],
        }
    )
    assert [type(r).__name__ for r in config.receivers] == ["PagerDutyReceiver", "SlackReceiver"]
    with pytest.raises(ValidationError, match="unique"):
        IngressConfig.model_validate({"receivers": [{"kind": "webhook", "name": "x", "url": "http://a"}] * 2})
    with pytest.raises(ValidationError, match="routing_key_env"):
        IngressConfig.model_validate({"receivers": [{"kind": "pagerduty", "name": "pd", "routing_key": "inline"}]})
    # serve_config.yaml shows a commented `receivers:` example under args: uncommented, it validates
    text = (Path(__file__).resolve().parents[2] / "serve_config.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(text) if line.strip() == "# receivers:")
    indent = text[start].index("#")
    block = []
    for line in text[start:]:
        if not line.strip().startswith("#") or line.index("#") != indent:
            break
        block.append(line[indent + 2 :])
    example = yaml.safe_load("\n".join(block))["receivers"]
    assert {r["kind"] for r in example} == {"pagerduty", "webhook", "slack", "file"}
    receivers = IngressConfig.model_validate({"receivers": example}).receivers
    assert len(receivers) == 4 and receivers[0].routes("", {"severity": "page", "env": "prod"})


# ---- Alertmanager's http_config authenticating to the webhook ----------------------------------------------
def test_webhook_credentials_bearer_basic_and_the_admin_token(monkeypatch):
    from alertsieve.settings import Settings
    from serve_app.webhook import AuthError, check_webhook_auth, webhook_credentials

    monkeypatch.setenv("ALERTSIEVE_WEBHOOK_TOKEN", "hook-token")
    monkeypatch.setenv("ALERTSIEVE_WEBHOOK_USER", "alertmanager")
    monkeypatch.setenv("ALERTSIEVE_WEBHOOK_PASSWORD", "pw")
    settings = Settings()
    credentials = webhook_credentials(
        "admin-token", settings.webhook_token, settings.webhook_user, settings.webhook_password
    )
    basic = "Basic " + base64.b64encode(b"alertmanager:pw").decode()
    for accepted in ("Bearer hook-token", "bearer admin-token", basic):
        check_webhook_auth(accepted, credentials)
    wrong_basic = "Basic " + base64.b64encode(b"alertmanager:nope").decode()
    for header, status in [(None, 401), ("Token x", 401), ("Bearer nope", 403), (wrong_basic, 403), ("Basic %%", 403)]:
        with pytest.raises(AuthError) as refused:
            check_webhook_auth(header, credentials)
        assert refused.value.status == status, header
    with pytest.raises(AuthError) as refused:  # nothing configured: no caller could pass
        check_webhook_auth("Bearer x", webhook_credentials(None, None, None, None))
    assert refused.value.status == 403
    # the webhook token does not write: feedback and thresholds check the admin token only
    from serve_app.webhook import check_bearer

    with pytest.raises(AuthError):
        check_bearer("Bearer hook-token", "admin-token")


# ---- through the session's real Serve app ----------------------------------------------------------------------
@pytest.mark.slow
def test_pages_reach_the_session_receiver_annotated(serve_url, receiver) -> None:
    """The session app's one receiver is ``downstream_url`` (a catch-all webhook): a novel alert is paged
    and reaches it with its decision in the annotations."""
    labels = {"alertname": "ReceiversProbeNeverSeen", "service": "checkout", "pod": "probe-1"}
    posted = {
        "labels": labels,
        "annotations": {"summary": "probe"},
        "startsAt": "2026-01-07T09:00:00Z",
        "status": "firing",
        "fingerprint": fingerprint_of(labels),
    }
    receiver.bodies.clear()
    reply = httpx.post(
        f"{serve_url}/v1/alertmanager", json={"version": "4", "receiver": "x", "alerts": [posted]}, timeout=60
    )
    assert reply.status_code == 200, reply.text
    (decision,) = reply.json()["decisions"]
    assert decision["decision"] == "page"
    (sent,) = [a for b in receiver.bodies for a in b["alerts"] if a["fingerprint"] == posted["fingerprint"]]
    annotations = sent["annotations"]
    assert annotations["summary"] == "probe" and annotations["alertsieve_model"] == decision["model_version"]
    assert float(annotations["alertsieve_score"]) == pytest.approx(decision["score"], abs=1e-4)
    assert annotations["alertsieve_reason"] == decision["reason"]
    assert {k: v for k, v in sent.items() if k != "annotations"} == {
        k: v for k, v in posted.items() if k != "annotations"
    }
