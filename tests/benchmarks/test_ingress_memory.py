"""The Ingress memory benchmark, tiny: fed past every cap, each bounded structure of the router reaches its cap
and never goes over it (an outcome, not a timing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ingress_memory import STRUCTURES, Caps, Step, build_router, caps_of, feed

from alertsieve.bundle import ModelBundle
from alertsieve.schema import LabelledAlert

# fed past these caps (the live-safety watch counts nothing for this bundle: it is held to no expectations)
REACHED = ("decisions", "rows", "occurrences", "windows", "fingerprints", "hosts")


def test_every_structure_stays_at_or_below_its_cap(
    tmp_path: Path, small_bundle: ModelBundle, small_history: list[LabelledAlert]
) -> None:
    router = build_router(
        small_bundle, Caps(decisions=300, rows=400, stream=1_000, hosts=200, counted=500), str(tmp_path)
    )
    caps = caps_of(router)
    assert (caps["decisions"], caps["rows"], caps["fingerprints"], caps["hosts"], caps["counted"]) == (
        300,
        400,
        1_000,
        200,
        500,
    )
    steps: list[Step] = []
    asyncio.run(feed(router, small_history, 3_000, 200, 200, 50.0, True, steps.append))

    assert [s.alerts for s in steps] == list(range(0, 3_001, 200))
    for step in steps:
        for name in STRUCTURES:
            assert step.sizes[name] <= caps[name], (name, step.alerts, step.sizes[name])
    last = steps[-1].sizes
    assert {name: last[name] for name in REACHED} == {name: caps[name] for name in REACHED}, "fed past every cap"
    assert router.store.lines("decisions"), "the decisions were logged"
