"""The running counts of the stream context agree with a plain scan of the stream, and Times counts by bisection."""

from __future__ import annotations

import random

import pytest

from alertsieve.windows import HOUR, MINUTE, Event, Times, Windows


def scanned(events: list[tuple[Event, str]], now: float, e: Event, environment: str) -> dict[str, int]:
    """What the windows must say, by scanning every earlier event (the definition)."""

    def distinct(span: float, keep, of=lambda x: x.fingerprint) -> int:  # noqa: ANN001 - test helper
        return len({of(x) for x, _ in events if now - x.t <= span and keep(x)})

    return {
        "svc_5m": distinct(5 * MINUTE, lambda x: x.service == e.service),
        "svc_30m": distinct(30 * MINUTE, lambda x: x.service == e.service),
        "svc_names_30m": distinct(30 * MINUTE, lambda x: x.service == e.service, lambda x: x.name),
        "svc_novel_30m": distinct(30 * MINUTE, lambda x: x.service == e.service and x.novel),
        "all_5m": distinct(5 * MINUTE, lambda x: True),
        "all_30m": distinct(30 * MINUTE, lambda x: True),
        "services_15m": distinct(15 * MINUTE, lambda x: True, lambda x: x.service),
        "novel_30m": distinct(30 * MINUTE, lambda x: x.novel),
        "peers_5m": distinct(
            5 * MINUTE, lambda x: (x.name, x.service) == (e.name, e.service) and x.fingerprint != e.fingerprint
        ),
        "inst_5m": distinct(5 * MINUTE, lambda x: bool(e.instance) and x.instance == e.instance),
        "novel_5m": distinct(5 * MINUTE, lambda x: x.novel),
        "env_novel_5m": sum(1 for x, env in events if x.novel and env == environment and now - x.t <= 5 * MINUTE),
        "env_novel_60m": sum(1 for x, env in events if x.novel and env == environment and now - x.t <= HOUR),
    }


def test_running_counts_equal_a_scan_of_a_dense_stream():
    rng = random.Random(3)
    windows, seen = Windows(), set()
    events: list[tuple[Event, str]] = []
    t = 0.0
    for _ in range(1500):
        t += rng.expovariate(1 / 8.0)  # an alert every 8 s on average, for about 3.3 hours
        fp = f"fp{rng.randrange(120)}"
        e = Event(
            t,
            fp,
            rng.choice("ABC"),
            rng.choice(("checkout", "search", "auth")),
            fp not in seen,
            rng.choice(("", "host-1", "host-2")),
        )
        environment = rng.choice(("prod", "staging"))
        windows.advance(t)
        assert windows.company(e.fingerprint, e.name, e.service, e.instance, environment)._asdict() == scanned(
            events, t, e, environment
        )
        windows.add(e, environment)
        events.append((e, environment))
        seen.add(fp)
    assert len(windows.w30) < len(events)  # what fell out of the windows was let go


def test_an_alert_older_than_the_windows_is_not_added():
    windows = Windows()
    windows.advance(10 * HOUR)
    windows.add(Event(0.0, "old", "A", "svc", True, "h"), "prod")
    assert not windows.w5 and not windows.w30 and windows.company("x", "A", "svc", "h", "prod").env_novel_60m == 0


def test_times_count_and_find_by_bisection():
    times = Times()
    for t in (1.0, 2.0, 5.0, 3.0):  # 3.0 arrives late: inserted in order
        times.append(t)
    assert len(times) == 4 and times.last() == 5.0
    assert [times.count_since(s) for s in (0.0, 2.0, 2.5, 6.0)] == [4, 3, 2, 0]
    assert times.any_between(2.0, 3.0, low_open=False, high_open=False)
    assert not times.any_between(3.0, 5.0, low_open=True, high_open=True)
    assert times.any_between(3.0, 5.0, low_open=True, high_open=False)
    assert not times.any_between(6.0, 9.0, low_open=False, high_open=False)
    times.trim(2.5)
    assert len(times) == 2 and times.count_since(0.0) == 2


@pytest.mark.parametrize("count", [10, 1000])
def test_trimming_compacts_without_changing_counts(count: int):
    times = Times()
    for t in range(count):
        times.append(float(t))
    times.trim(float(count * 3 // 4))
    assert len(times) == count - count * 3 // 4
    assert times.count_since(float(count * 4 // 5)) == count - count * 4 // 5
    assert times.last() == float(count - 1)


def test_a_late_alert_is_counted_as_of_its_own_time():
    """Out of order (a late notification), an alert gets the company it had at its own time: what a
    state that saw the stream only up to then says, as training's replay in time order would."""
    rng = random.Random(5)
    events = []
    t = 0.0
    for i in range(600):
        t += rng.expovariate(1 / 3.0)
        events.append(
            (
                Event(
                    t,
                    f"fp{rng.randrange(40)}",
                    rng.choice("AB"),
                    rng.choice(("x", "y")),
                    i % 7 == 0,
                    rng.choice(("", "h1")),
                ),
                rng.choice(("prod", "dev")),
            )
        )
    late_at = events[400][0].t - 1.0  # before the last 200 alerts, within LATE_S of the clock
    assert events[-1][0].t - late_at < 10 * MINUTE
    full, upto = Windows(), Windows()
    for e, env in events:
        full.advance(e.t)
        full.add(e, env)
        if e.t <= late_at:
            upto.advance(e.t)
            upto.add(e, env)
    upto.advance(late_at)
    args = ("fp1", "A", "x", "h1", "prod")
    assert full.company(*args, at=late_at) == upto.company(*args, at=late_at)
    assert full.company(*args, at=late_at) != full.company(*args)  # the latest windows differ
