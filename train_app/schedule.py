"""The single-machine schedule: run a job at every tick of a cron expression (croniter).

Production runs the same job from a Kubernetes CronJob (infra/kustomize/base/retrain-rayjob.yaml); this loop is its
equivalent on one machine (`alertsieve schedule --cron "0 3 * * 1"`). A failed run is reported and the
loop goes on to the next tick; the job records its own status. Clock and sleep are parameters, so the
loop is tested without waiting a week.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from croniter import croniter
from pydantic import BaseModel

Clock = Callable[[], datetime]


class Tick(BaseModel):
    scheduled: datetime
    started: datetime
    finished: datetime
    ok: bool
    error: str = ""


def validate_cron(expression: str) -> str:
    if not croniter.is_valid(expression):
        raise ValueError(f"not a valid cron expression: {expression!r}")
    return expression


def next_ticks(expression: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` ticks strictly after ``after`` (times in ``after``'s timezone, UTC if naive)."""
    base = after if after.tzinfo else after.replace(tzinfo=UTC)
    it = croniter(validate_cron(expression), base)
    return [it.get_next(datetime) for _ in range(count)]


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_schedule(
    expression: str,
    job: Callable[[], object],
    max_runs: int | None = None,
    run_now: bool = False,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    on_tick: Callable[[Tick], None] = lambda tick: None,
    on_wait: Callable[[datetime], None] = lambda when: None,
) -> list[Tick]:
    """Run ``job`` now (``run_now``) and then at each tick, until ``max_runs`` runs (forever if None)."""
    validate_cron(expression)
    ticks: list[Tick] = []

    def run(scheduled: datetime) -> None:
        started = clock()
        try:
            job()
            tick = Tick(scheduled=scheduled, started=started, finished=clock(), ok=True)
        except Exception as exc:  # noqa: BLE001 - one failed run must not end the schedule
            tick = Tick(
                scheduled=scheduled, started=started, finished=clock(), ok=False, error=f"{type(exc).__name__}: {exc}"
            )
        ticks.append(tick)
        on_tick(tick)

    if run_now and max_runs != 0:
        run(clock())
    while max_runs is None or len(ticks) < max_runs:
        when = next_ticks(expression, clock(), 1)[0]
        on_wait(when)
        while (left := (when - clock()).total_seconds()) > 0:
            sleep(min(left, 60.0))
        run(when)
    return ticks
