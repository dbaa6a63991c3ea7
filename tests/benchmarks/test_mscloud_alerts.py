"""The Cloud Monitoring converter on tiny hand-made series: rules fire, resolve, re-send, and label by overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from mscloud_alerts import REPEAT_INTERVAL, convert, episodes, incident_stretches

START = datetime(2018, 6, 1, tzinfo=UTC)


def write_series(root: Path, domain: str, name: str, values: list[float], labels: list[int]) -> None:
    folder = root / "data" / domain
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["TimeStamp,Value,Label"]
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        lines.append(f'"{(START + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S")}",{value},{label}')
    (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    (folder / f"{name}.csv-metadata.json").write_text('{"notes": ["crash rate increases"]}')


def flat(n: int) -> list[float]:
    return [10.0 + 0.1 * (i % 3) for i in range(n)]


def test_spike_fires_resolves_and_is_actionable_a_dip_is_not(tmp_path: Path) -> None:
    values, labels = flat(120), [0] * 120
    for i in range(70, 80):  # ten hours of a labelled crash-rate spike
        values[i], labels[i] = 100.0, 1
    values[100] = 0.0  # an unlabelled dip: only the generic both-ways rule sees it
    write_series(tmp_path, "application-crash-rate-1", "app1-01", values, labels)

    alerts, incidents = convert(tmp_path)

    assert incidents == {"application-crash-rate-1": 1}
    spike = [s for s in alerts if s.alert.alertname == "AppCrashRateAboveBaseline"]
    assert spike and all(s.alert.actionable and s.incident == "app1-01#0" for s in spike)
    first = spike[0].alert
    assert first.startsAt == START + timedelta(hours=70)
    assert first.endsAt == START + timedelta(hours=80) and first.status == "resolved"
    assert first.labels["service"] == "application-crash-rate-1" and first.labels["series"] == "app1-01"
    assert "100" in first.annotations["summary"]
    # firing 10 h with a 4 h repeat_interval: sent at +0, +4 h, +8 h with one fingerprint and startsAt
    warning = [s.alert for s in spike if s.alert.labels["severity"] == "warning"]
    assert len(warning) == 3 and len({a.occurrence for a in warning}) == 1
    assert REPEAT_INTERVAL == timedelta(hours=4)
    dips = [s for s in alerts if s.alert.alertname == "MetricBelowBaseline"]
    assert dips and not any(s.alert.actionable for s in dips)
    assert all(0.0 <= s.span_position <= 1.0 for s in alerts)
    assert len(convert(tmp_path, resends=False)[0]) < len(alerts)


def test_unlabelled_series_gives_only_noise(tmp_path: Path) -> None:
    values = flat(120)
    values[60:64] = [80.0] * 4
    write_series(tmp_path, "middle-tier-api-dependency-latency", "outbound-16", values, [0] * 120)
    alerts, _ = convert(tmp_path)
    assert alerts and not any(s.alert.actionable or s.incident for s in alerts)


def test_for_duration_and_stretch_merging() -> None:
    holds = np.array([1, 1, 0, 1, 1, 1, 0, 1], dtype=bool)
    assert episodes(holds, 2) == [(0, 1, 2), (3, 4, 6)]
    assert episodes(holds, 1)[-1] == (7, 7, 8)  # still firing at the end: resolve index == len
    assert incident_stretches(np.array([1, 0, 0, 1, 0, 0, 0, 0, 1], dtype=bool)) == [(0, 3), (8, 8)]
