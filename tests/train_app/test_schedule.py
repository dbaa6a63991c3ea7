"""The single-machine schedule: cron ticks, the loop with a fake clock, and `schedule --once`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from train_app.schedule import next_ticks, run_schedule

MONDAYS_3AM = "0 3 * * 1"


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_weekly_ticks_fall_on_monday_at_three() -> None:
    ticks = next_ticks(MONDAYS_3AM, datetime(2026, 3, 4, 12, 0, tzinfo=UTC), 3)  # a Wednesday
    assert ticks == [datetime(2026, 3, d, 3, 0, tzinfo=UTC) for d in (9, 16, 23)]
    assert next_ticks(MONDAYS_3AM, datetime(2026, 3, 9, 3, 0), 1) == [datetime(2026, 3, 16, 3, 0, tzinfo=UTC)]


def test_invalid_cron_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid cron"):
        run_schedule("every monday", lambda: None, max_runs=1)


def test_the_loop_runs_the_job_at_each_tick_and_survives_a_failure() -> None:
    clock = FakeClock(datetime(2026, 3, 8, 23, 0, tzinfo=UTC))  # Sunday 23:00
    runs: list[datetime] = []

    def job() -> None:
        runs.append(clock())
        clock.now += timedelta(minutes=20)  # the job takes a while
        if len(runs) == 2:
            raise RuntimeError("S3 unavailable")

    ticks = run_schedule(MONDAYS_3AM, job, max_runs=3, clock=clock, sleep=clock.sleep)
    assert runs == [datetime(2026, 3, d, 3, 0, tzinfo=UTC) for d in (9, 16, 23)]
    assert [t.ok for t in ticks] == [True, False, True]
    assert ticks[1].error == "RuntimeError: S3 unavailable"
    assert ticks[0].finished - ticks[0].started == timedelta(minutes=20)
    assert max(clock.slept) <= 60.0  # wakes up at least every minute (clock changes, suspend)


def test_run_now_runs_before_the_first_tick() -> None:
    clock = FakeClock(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))
    runs: list[datetime] = []
    ticks = run_schedule(
        MONDAYS_3AM, lambda: runs.append(clock()), max_runs=2, run_now=True, clock=clock, sleep=clock.sleep
    )
    assert runs == [datetime(2026, 3, 4, 12, 0, tzinfo=UTC), datetime(2026, 3, 9, 3, 0, tzinfo=UTC)]
    assert len(ticks) == 2


def test_schedule_once_runs_the_retraining_job_now(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from train_app import cli
    from train_app.__main__ import build

    seen = []
    monkeypatch.setattr(cli, "_run_retrain", lambda config: seen.append(config))
    argv = [
        "schedule",
        "--cron",
        MONDAYS_3AM,
        "--once",
        "--history",
        str(tmp_path / "h.jsonl"),
        "--weeks",
        "4",
        "--encoder",
        "hashing-64",
    ]
    result = CliRunner().invoke(build(), argv)
    assert result.exit_code == 0, result.output
    assert len(seen) == 1 and seen[0].window.weeks == 4 and seen[0].encoder == "hashing-64"


def test_schedule_refuses_a_bad_cron_expression(tmp_path) -> None:
    from train_app.__main__ import build

    result = CliRunner().invoke(build(), ["schedule", "--cron", "0 3 * *", "--once", "--history", str(tmp_path)])
    assert result.exit_code == 2 and "not a valid cron expression" in result.output
