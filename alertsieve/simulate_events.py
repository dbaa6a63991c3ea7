"""How simulated events become Alertmanager alerts, for every simulator profile.

This module owns the event record the profiles produce (``Event``) and its rendering: pod names that change
at deploys and host addresses, label sets (with a ``cluster`` label where the profile places events in
clusters), summaries and descriptions with their volatile ids, generator URLs, Alertmanager's one firing
alert per label set, and resolved or still firing at the horizon. The profiles (``simulate_default``,
``simulate_sparse``) own which events happen and which kinds are actionable; the catalogue modules own the
names and texts. Every draw comes from the profile's one ``numpy`` Generator, so the output is fixed by the seed.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import numpy as np

from alertsieve import simulate_catalog as cat
from alertsieve.schema import LabelledAlert
from alertsieve.simulate_catalog import Rule, Service

DAY, HOUR, MINUTE = 86_400, 3_600, 60
DEFAULT_REGION = "eu-west-1"
_ALNUM = np.array(list("bcdfghjklmnpqrstvwxz2456789"))
_VOLATILE: dict[str, Callable[[np.random.Generator], object]] = {
    "req": lambda r: r.bytes(8).hex(),
    "trace": lambda r: r.bytes(16).hex(),
    "uuid": lambda r: str(uuid.UUID(bytes=r.bytes(16), version=4)),
    "ip": lambda r: "10.{}.{}.{}".format(*(r.random(3) * (256, 256, 254) + (0, 0, 1)).astype(int)),
    "n": lambda r: 2 + int(r.random() * 498),
}


@dataclass(slots=True)
class Event:
    """One firing of ``rule`` on target ``target`` of ``svc`` from second ``t`` for ``dur`` seconds."""

    t: int
    dur: int
    svc: Service
    rule: Rule
    target: int
    env: str
    severity: str
    kind: str
    cluster: str = ""


class _Fields(dict[str, object]):
    """Template values; the volatile ids are drawn on first use."""

    def __init__(self, rng: np.random.Generator, base: dict[str, object]) -> None:
        super().__init__(base)
        self.rng = rng

    def __missing__(self, key: str) -> object:
        self[key] = _VOLATILE[key](self.rng)
        return self[key]


class EventStream:
    """The events of one simulated history and their rendering; a profile subclasses it and fills ``events``.

    ``cluster`` is stamped on every event ``_add`` records ("" for none: no ``cluster`` label); ``deploys``
    maps (cluster, service) to its rollout times, at which its pods get new names; ``regions`` names the
    region of a cluster's nodes.
    """

    actionable_kinds: frozenset[str] = frozenset()

    def __init__(self, days: int, seed: int, start: datetime) -> None:
        self.rng = np.random.default_rng(seed)
        self.days, self.start, self.horizon = days, start, days * DAY
        self.events: list[Event] = []
        self.cluster = ""
        self.deploys: dict[tuple[str, str], list[int]] = {}
        self.regions: dict[str, str] = {}
        self._pods: dict[tuple[str, str, str, int], list[str]] = {}
        self._hosts: dict[tuple[str, str, str, int], str] = {}
        self._extras: dict[tuple[str, str, str, str, int], dict[str, str]] = {}

    def _add(self, t: float, dur: float, svc: Service, rule: Rule, i: int, env: str, sev: str, kind: str) -> None:
        if 0 <= t < self.horizon:
            self.events.append(Event(int(t), max(30, int(dur)), svc, rule, i, env, sev, kind, self.cluster))

    def _target(self, svc: Service, env: str, cluster: str, i: int, t: int) -> str:
        rng = self.rng
        if svc.kind in cat.HOSTS:
            if (cluster, svc.name, env, i) not in self._hosts:
                octet = {"prod": 0, "staging": 64, "dev": 96}[env] + int(rng.integers(0, 16))
                ip = f"10.{octet}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
                self._hosts[cluster, svc.name, env, i] = f"{ip}:{cat.PORTS[svc.kind]}"
            return self._hosts[cluster, svc.name, env, i]
        key = (cluster, svc.name, env, bisect_right(self.deploys[cluster, svc.name], t))
        if key not in self._pods:
            rs = "".join(rng.choice(_ALNUM, size=int(rng.integers(9, 11))))
            self._pods[key] = [f"{svc.name}-{rs}-{''.join(rng.choice(_ALNUM, size=5))}" for _ in range(svc.replicas)]
        return self._pods[key][i]

    def _labels(self, ev: Event) -> tuple[dict[str, str], dict[str, object]]:
        svc, env, rule = ev.svc, ev.env, ev.rule
        ns = svc.namespace if env == "prod" else f"{svc.namespace}-{env}"
        labels = {"alertname": rule.name, "severity": ev.severity, "namespace": ns, "env": env}
        if ev.cluster:
            labels["cluster"] = ev.cluster
        if svc.label != "namespace":
            labels[svc.label] = svc.name
        target, host = self._target(svc, env, ev.cluster, ev.target, ev.t), svc.kind in cat.HOSTS
        labels["instance" if host else "pod"] = target
        region = self.regions.get(ev.cluster, DEFAULT_REGION)
        node = "ip-" + target.split(":")[0].replace(".", "-") + f".{region}.compute.internal" if host else ""
        if svc.kind == "node":
            labels["node"] = node
        ekey = (ev.cluster, svc.name, env, rule.name, ev.target)
        if ekey not in self._extras:
            self._extras[ekey] = {
                k: str(opts[int(self.rng.integers(len(opts)))]).format(svc=svc.name) for k, opts in rule.extra
            }
        labels.update(self._extras[ekey])
        return labels, {"svc": svc.name, "ns": ns, "target": target, "node": node, **self._extras[ekey]}

    def alerts(self) -> list[tuple[LabelledAlert, str]]:
        """The events as alerts sorted by startsAt (ties by label set), each with its behaviour kind."""
        staged = []
        for idx, ev in enumerate(self.events):
            labels, fields = self._labels(ev)
            staged.append((ev.t, tuple(sorted(labels.items())), idx, ev, labels, fields))
        staged.sort(key=lambda s: (s[0], s[1], s[2]))
        busy_until: dict[tuple[tuple[str, str], ...], int] = {}
        urls: dict[tuple[str, str, str, str], str] = {}
        out: list[tuple[LabelledAlert, str]] = []
        for t, key, _, ev, labels, base in staged:
            if t < busy_until.get(key, -1):
                continue  # Alertmanager keeps one firing per label set: a later overlapping one is the same alert
            busy_until[key] = t + ev.dur
            rule, (lo, hi) = ev.rule, ev.rule.value
            if "a" in rule.roles and ev.severity == "critical" and len(rule.severities) > 1:
                lo, hi = lo * 0.1, lo * 0.4  # days or percent left: the critical end of the range
            fields = _Fields(self.rng, {**base, "v": float(self.rng.uniform(lo, hi))})
            ukey = (rule.name, ev.svc.name, labels["namespace"], ev.cluster)
            if ukey not in urls:
                expr = quote(rule.expr.format(svc=ev.svc.name, ns=labels["namespace"]))
                urls[ukey] = f"http://prometheus.{ev.cluster or ev.env}.example.com/graph?g0.expr={expr}&g0.tab=1"
            ended = t + ev.dur <= self.horizon
            annotations = {
                "summary": rule.summary.format_map(fields),
                "description": rule.description.format_map(fields),
                "runbook_url": f"https://runbooks.example.com/alerts/{rule.name.lower()}",
            }
            alert = LabelledAlert(
                status="resolved" if ended else "firing",
                labels=labels,
                annotations=annotations,
                startsAt=self.start + timedelta(seconds=t),
                endsAt=self.start + timedelta(seconds=t + ev.dur) if ended else None,
                generatorURL=urls[ukey],
                actionable=ev.kind in self.actionable_kinds,
            )
            out.append((alert, ev.kind))
        return out
