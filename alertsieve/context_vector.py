"""Reading an alert's context vector off the stream state (``context.StreamState``), in FEATURE_NAMES order.

The state owns what is kept of the recent stream and how it is updated; this module owns what is read from
it for one alert: severity, time of day and week, how often and how lately the fingerprint and the alert
name fired, flapping, novelty, and the company the alert keeps (``windows.Windows``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from alertsieve.schema import Alert
from alertsieve.severity import severity_level
from alertsieve.windows import HOUR, MINUTE, Times

if TYPE_CHECKING:
    from alertsieve.context import StreamState

DAY = 86400.0
HISTORY_S = 7 * DAY
SHORT_FIRE_S = 15 * MINUTE
MAX_GAP_H = 30 * 24.0

_NO_TIMES = Times()


def _same_time_days(times: Times, now: float, horizon: float) -> int:
    """On how many earlier days the key fired within an hour of this time of day (at least 20 h ago)."""
    days = 0
    for k in range(int(HISTORY_S // DAY) + 1):
        day = now - k * DAY
        # (now - t) in [k days, k days + 1 h), at least 20 h ago; or in (k days + 23 h, k + 1 days)
        late = k >= 1 and times.any_between(max(day - HOUR, horizon), day, day - HOUR >= horizon, False)
        early = times.any_between(max(day - DAY, horizon), day - DAY + HOUR, day - DAY >= horizon, True)
        days += late or early
    return days


def context_vector(state: StreamState, alert: Alert) -> np.ndarray:
    """The context vector of ``alert`` given everything observed before it (FEATURE_NAMES order)."""
    now = alert.startsAt.timestamp()
    state.advance(now)
    # Tables are trimmed lazily (hourly): count only what is newer than the horizon.
    horizon = state.horizon
    fp, name, svc = alert.fingerprint, alert.alertname, alert.service(state.service_labels)
    name_svc = f"{name}\x1f{svc}"
    level = severity_level(alert.labels)
    when = alert.startsAt
    hour = (when.hour + when.minute / 60.0) * 2 * math.pi / 24
    weekday = when.weekday() * 2 * math.pi / 7
    fp_times = state.fp_times.get(fp, _NO_TIMES)
    last = fp_times.last()
    last = last if last is not None and last >= horizon else None
    gap_h = MAX_GAP_H if last is None else min(MAX_GAP_H, max(0.0, now - last) / HOUR)
    name_times = state.name_times.get(name, _NO_TIMES)
    same_time_days = _same_time_days(state.name_svc_times.get(name_svc, _NO_TIMES), now, horizon)
    inst, env = state.instance_of(alert), state.environment_of(alert)
    c = state.windows.company(fp, name, svc, inst, env, at=now)

    def since(times: Times, span: float) -> int:
        return times.count_since(max(now - span, horizon), until=now)  # as of the alert's own time

    log = math.log1p
    return np.array(
        [
            0.5 if level is None else level,
            float(level is None),
            math.sin(hour),
            math.cos(hour),
            math.sin(weekday),
            math.cos(weekday),
            float(when.weekday() >= 5),
            float(fp in state.seen_fps),
            log(since(fp_times, HOUR)),
            log(since(fp_times, DAY)),
            log(since(fp_times, HISTORY_S)),
            log(gap_h) / log(MAX_GAP_H),
            log(since(state.fp_short.get(fp, _NO_TIMES), DAY)),
            float(state.open_fps.get(fp, -math.inf) >= horizon),
            float(name in state.seen_names),
            float(name_svc in state.seen_name_svc),
            log(since(name_times, HOUR)),
            log(since(name_times, DAY)),
            log(since(name_times, HISTORY_S)),
            log(same_time_days),
            log(c.svc_5m),
            log(c.svc_30m),
            log(c.svc_names_30m),
            log(c.svc_novel_30m),
            log(c.all_5m),
            log(c.all_30m),
            log(c.services_15m),
            log(c.novel_30m),
            log(c.peers_5m),
            float(not inst or f"{name}\x1f{inst}" in state.seen_inst_names),
            log(c.inst_5m),
            log(c.novel_5m),
            log(c.env_novel_5m),
            log(c.env_novel_60m),
        ],
        dtype=np.float32,
    )
