"""Zero 5xx under schemathesis (issue 12, finding 4 and "Done when"): every operation of the live app's
OpenAPI is called with generated inputs, valid and invalid, without the token and with it, a bounded
number of examples each (derandomised, so a run is repeatable), and no answer may be a server error.

The session receiver is up and takes any body (the webhook forwards what it cannot parse as it came), so
not even the webhook's 502 (downstream failed) is expected. With the token the fuzz writes threshold overrides and turns "page everything" on; both are reverted afterwards, so the tests
that run later against the same app see its thresholds as they were."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.conftest import TOKEN

pytestmark = pytest.mark.slow
# per operation and generation mode, each sent without and with the token: under a minute on two shared cores
EXAMPLES = 16
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _in_force(client: httpx.Client) -> tuple[list[tuple[str, str, str]], bool]:
    """The overrides in force (service, matchers, when set) and whether page-everything is on."""
    found = [
        (o["service"], json.dumps(o["matchers"], sort_keys=True), o["at"])
        for o in client.get("/v1/thresholds/overrides").json()
    ]
    return found, client.get("/v1/page-everything").json()["on"]


def _restore_thresholds(client: httpx.Client, overrides: list[tuple[str, str, str]], switch_on: bool) -> None:
    """Revert the overrides the fuzz wrote (those not in force before it) and the page-everything switch."""
    cleanup = {"by": "schema-fuzz", "reason": "revert what the fuzz wrote"}
    for service, matchers, at in _in_force(client)[0]:
        if (service, matchers, at) not in overrides:
            body = {**cleanup, "matchers": json.loads(matchers)}
            client.request("DELETE", f"/v1/thresholds/{quote(service, safe='')}", json=body)
    if not switch_on:
        client.put("/v1/page-everything", json={**cleanup, "on": False})
    after, after_on = _in_force(client)
    assert all(o in overrides for o in after) and after_on == switch_on


@pytest.fixture
def restored_thresholds(serve_url: str):  # -> None
    with httpx.Client(base_url=serve_url, headers=AUTH, timeout=30) as client:
        overrides, switch_on = _in_force(client)
        yield
        _restore_thresholds(client, overrides, switch_on)


def test_no_operation_answers_a_server_error(serve_url: str, restored_thresholds: None) -> None:
    schema = schemathesis.openapi.from_url(f"{serve_url}/openapi.json")
    calls: Counter[int] = Counter()
    errors: list[str] = []
    skipped: list[str] = []
    operations = [
        result.ok() if isinstance(result, Ok) else pytest.fail(f"operation not loaded: {result.err()}")
        for result in schema.get_all_operations()
    ]
    assert len(operations) >= 10
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def call(case: schemathesis.Case[Any]) -> None:
                for headers in ({}, AUTH):  # the same input without the token, then with it
                    response = case.call(base_url=serve_url, headers=headers, timeout=60)
                    calls[response.status_code] += 1
                    if response.status_code >= 500:
                        errors.append(
                            f"{response.status_code} {case.as_curl_command(headers, base_url=serve_url)}"
                            f" -> {response.text[:300]}"
                        )

            try:
                call()
            except Unsatisfiable:  # no invalid input exists (an operation without parameters)
                skipped.append(f"{operation.label} {mode.value}")
    server_errors = sum(n for code, n in calls.items() if code >= 500)
    logging.getLogger(__name__).warning(
        "schemathesis: %d operations, %d requests, %d 5xx; codes %s; no invalid input for %s",
        len(operations),
        sum(calls.values()),
        server_errors,
        dict(sorted(calls.items())),
        skipped,
    )
    assert not errors, "\n".join(errors[:20])
