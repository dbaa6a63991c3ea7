"""The default simulator profile: a busy fleet whose noise and incident behaviours are known.

This module owns what the default profile does (``simulate.simulate_history(..., profile="default")``):
when, where and how often alerts fire and which are actionable. Services, rules, texts and schedules are
in ``simulate_catalog`` / ``simulate_rules``: 28 services (three added in later weeks) named by
``service``, ``job``, ``app`` or only their namespace, depending on each other (frontend -> checkout ->
payments -> postgres-payments ...). Pods are ``<svc>-<replicaset hash>-<suffix>`` and change at deploys;
``simulate_events`` renders the events as alerts. About 16% of the alerts are actionable.

Noise (``actionable=False``):
- ``flapping``: one fingerprint fires and resolves 3-10 times, 0.5-4 minutes each, in a few episodes a day;
  sources start and stop in given weeks (a quiet rule starts flapping, a flapping one gets fixed).
- ``transient``: an isolated spike of one of a service's 2-3 usual noisy rules, resolving by itself within
  minutes; more by day than at night or weekends, the level drifting from week to week.
- ``chronic``: the same warning fingerprints firing for hours, day after day, until someone fixes them.
- ``batch``: scheduled jobs (backup 02:00, ETL 03:00, compaction 00:30, a 6-hourly sync, Sunday reindex and
  vacuum) cause IO, CPU and latency alerts at fixed hours on the job's and its database's targets.
- ``replica``: the same rule on every replica of a service at the same instant (peak-hour throttling).
- ``deploy``: a few warnings (not ready, restarts, replicas mismatch) on the new pods of a rollout.
- ``nonprod``: staging and dev (``env`` label, ``-staging``/``-dev`` namespaces): spikes, flapping and whole
  incident-like bursts with cascades, none of which pages anyone.

Actionable (``actionable=True``):
- ``incident_root``: a failure on a production service (two to three a day fleet-wide, fewer at weekends)
  lasting 15 minutes to 6 hours: first a critical alert of a rule that fires only in failures (PostgresDown,
  KubePodCrashLooping critical ...), then within seconds to minutes 3-6 more distinct rules on several pods
  of that service, some flapping once around their threshold early on.
- ``incident_cascade``: 1-8 minutes per hop later, error, latency and circuit-breaker alerts on the services
  that depend on the root, up to three hops up the graph.
- ``critical_rule``: rare rules nearly always actionable in production when critical (BackupFailed after the
  nightly backup, CertificateExpiringSoon at 1-3 days, a volume about to fill).
- ``silent_incident``: about 0.3% of actionable alerts look exactly like a routine transient spike: the
  irreducible overlap.

The same rule and text are noise in one context and actionable in another (HighLatencyP99 as a spike, in a
batch window, on every replica, flapping, in staging, or in an incident), so text alone cannot decide;
novelty, rhythm, company, severity and environment can, from what is known at firing time. No field gives
the behaviour away.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from alertsieve import simulate_catalog as cat
from alertsieve.simulate_catalog import Rule, Service
from alertsieve.simulate_events import DAY, HOUR, MINUTE, EventStream

NOISE_KINDS = ("flapping", "transient", "chronic", "batch", "replica", "deploy", "nonprod")
ACTIONABLE_KINDS = ("incident_root", "incident_cascade", "critical_rule", "silent_incident")
TRANSIENTS_PER_DAY, NONPROD_PER_DAY, INCIDENTS_PER_DAY, SILENT_PER_TRANSIENT = 120.0, 60.0, 2.6, 0.0015
DEPLOY_RULES = ("KubePodNotReady", "ContainerHighRestarts", "KubeDeploymentReplicasMismatch", "TargetDown")
_DIURNAL = 0.35 + np.exp(-(((np.arange(24) - 14.0) / 4.5) ** 2))
_DIURNAL = _DIURNAL / _DIURNAL.sum()


class DefaultSimulator(EventStream):
    """The default profile: ``run()`` fills ``events``, ``alerts()`` renders them."""

    actionable_kinds = frozenset(ACTIONABLE_KINDS)

    def __init__(self, days: int, seed: int, start: datetime) -> None:
        super().__init__(days, seed, start)
        rng = self.rng
        self.services, self.rules = {s.name: s for s in cat.SERVICES}, {r.name: r for r in cat.RULES}
        self.dependents = {s.name: [d for d in cat.SERVICES if s.name in d.depends_on] for s in cat.SERVICES}
        self.week_noise = np.ones(days // 7 + 2)  # noise level per week: mean-reverting drift around 1
        for week in range(1, len(self.week_noise)):
            self.week_noise[week] = self.week_noise[week - 1] ** 0.5 * np.exp(rng.normal(0.0, 0.12))
        self.deploys = {("", s.name): self._deploy_times() for s in cat.SERVICES}
        self.noisy = {s.name: self._noisy_rules(s) for s in cat.SERVICES}
        self._live: dict[int, tuple[list[Service], np.ndarray]] = {}

    def _deploy_times(self) -> list[int]:
        draws = self.rng.random(self.days)
        return [
            d * DAY + int(self.rng.integers(9 * HOUR, 17 * HOUR))
            for d in range(self.days)
            if draws[d] < 0.12 and self._weekday(d) < 5
        ]

    def _noisy_rules(self, svc: Service) -> list[Rule]:
        pool = [r for r in cat.RULES if svc.kind in r.kinds and "n" in r.roles]
        return [pool[i] for i in sorted(self._sample(len(pool), int(self.rng.integers(2, 4))))]

    def _sample(self, n: int, k: int) -> list[int]:
        return [int(i) for i in self.rng.choice(n, size=min(n, k), replace=False)]

    def _weekday(self, day: int) -> int:
        return (self.start.weekday() + day) % 7

    def _rules(self, svc: Service, role: str, day: int) -> list[Rule]:
        return [r for r in cat.RULES if svc.kind in r.kinds and role in r.roles and r.first_day <= day]

    def _one(self, rules: list[Rule]) -> Rule:
        return rules[int(self.rng.integers(len(rules)))]

    def _pick_service(self, day: int) -> Service:
        if day not in self._live:
            live = [s for s in cat.SERVICES if s.first_day <= day]
            self._live[day] = (live, np.cumsum([s.weight for s in live]))
        live, cum = self._live[day]
        return live[int(np.searchsorted(cum, self.rng.random() * cum[-1], side="right"))]

    def _times(self, rate: float, day: int, diurnal: bool = True, regular: bool = False) -> list[int]:
        n = int(self.rng.binomial(5, rate / 5) if regular else self.rng.poisson(rate))
        hours = self.rng.choice(24, size=n, p=_DIURNAL) if diurnal else self.rng.integers(0, 24, size=n)
        return sorted(int(day * DAY + h * HOUR + self.rng.integers(0, HOUR)) for h in hours)

    def _sev(self, rule: Rule, p_critical: float) -> str:
        critical = "critical" in rule.severities and self.rng.random() < p_critical
        return "critical" if critical else rule.severities[0]

    # ---- behaviours -----------------------------------------------------------------------------
    def run(self) -> None:
        for day in range(self.days):
            self._day(day, self.week_noise[day // 7] * (0.7 if self._weekday(day) >= 5 else 1.0))
        for name, alertname, target, first, last in cat.CHRONIC:
            svc, rule = self.services[name], self.rules[alertname]
            t = max(first, svc.first_day) * DAY + self.rng.uniform(0, 10 * HOUR)
            while t < min(self.horizon, (last or self.days) * DAY):
                dur = self.rng.uniform(2, 14) * HOUR
                self._add(t, dur, svc, rule, target, "prod", rule.severities[0], "chronic")
                t += dur + self.rng.uniform(0.5, 10) * HOUR
        for svc in cat.SERVICES:
            for t in self.deploys["", svc.name]:
                rules = [self.rules[n] for n in DEPLOY_RULES if svc.kind in self.rules[n].kinds]
                if rules and svc.first_day * DAY <= t and self.rng.random() < 0.6:
                    for i in self._sample(len(rules), int(self.rng.integers(1, 4))):
                        t1, dur = t + self.rng.uniform(10, 180), self.rng.uniform(1, 6) * MINUTE
                        pod = int(self.rng.integers(svc.replicas))
                        self._add(t1, dur, svc, rules[i], pod, "prod", "warning", "deploy")

    def _day(self, day: int, level: float) -> None:
        rng = self.rng
        for t in self._times(TRANSIENTS_PER_DAY * level, day):
            svc = self._pick_service(day)
            rule = self._one([r for r in self.noisy[svc.name] if r.first_day <= day] or self._rules(svc, "n", day))
            kind = "silent_incident" if rng.random() < SILENT_PER_TRANSIENT else "transient"
            dur = min(30 * MINUTE, max(MINUTE, rng.lognormal(np.log(4 * MINUTE), 0.6)))
            self._add(t, dur, svc, rule, int(rng.integers(svc.replicas)), "prod", self._sev(rule, 0.08), kind)
        for name, alertname, target, first, last in cat.FLAPPING:
            if first <= day < (last or self.days) and self.services[name].first_day <= day:
                for t in self._times(1.8 * level, day, diurnal=False):
                    self._flap(t, self.services[name], self.rules[alertname], target, "prod", "flapping")
        for name, alertname, rate, first, last in cat.REPLICA:
            svc, rule = self.services[name], self.rules[alertname]
            if first <= day < (last or self.days) and svc.first_day <= day:
                for t in self._times(rate * level, day):
                    for i in range(svc.replicas):
                        self._add(t, rng.uniform(3, 25) * MINUTE, svc, rule, i, "prod", rule.severities[0], "replica")
        self._batch(day)
        for name, alertname, rate, hour in cat.CRITICAL_RULES:
            svc, rule = self.services[name], self.rules[alertname]
            for t in self._times(rate, day):
                t = day * DAY + hour * HOUR + int(rng.integers(15 * MINUTE, HOUR)) if hour >= 0 else t
                target = int(rng.integers(svc.replicas))
                self._add(t, rng.uniform(0.5, 8) * HOUR, svc, rule, target, "prod", "critical", "critical_rule")
        for t in self._times(INCIDENTS_PER_DAY * level / self.week_noise[day // 7], day, regular=True):
            self._incident(t, day, "prod")
        for t in self._times(NONPROD_PER_DAY * level, day):
            svc, env = self._pick_service(day), "staging" if rng.random() < 0.7 else "dev"
            rule = self._one(self._rules(svc, "n", day) + self._rules(svc, "f", day))
            dur = min(6 * HOUR, max(MINUTE, rng.lognormal(np.log(10 * MINUTE), 1.0)))
            self._add(t, dur, svc, rule, int(rng.integers(svc.replicas)), env, self._sev(rule, 0.2), "nonprod")
        for t in self._times(1.2, day, diurnal=False):
            svc = self._pick_service(day)
            rule = self._one(self._rules(svc, "n", day) or self._rules(svc, "f", day))
            self._flap(t, svc, rule, 0, "staging", "nonprod")
        for t in self._times(0.6, day):
            self._incident(t, day, "staging" if rng.random() < 0.7 else "dev")

    def _flap(self, t: float, svc: Service, rule: Rule, target: int, env: str, kind: str) -> None:
        for _ in range(int(self.rng.integers(3, 11))):
            dur = self.rng.uniform(30, 240)
            self._add(t, dur, svc, rule, target, env, rule.severities[0], kind)
            t += dur + self.rng.uniform(MINUTE, 10 * MINUTE)

    def _batch(self, day: int) -> None:
        for job in cat.BATCH_JOBS:
            if job.first_day > day or job.weekday not in (None, self._weekday(day)):
                continue
            for hour in job.hours:
                if self.rng.random() >= job.probability:
                    continue
                t0 = day * DAY + hour * HOUR + job.minute * MINUTE + int(self.rng.integers(0, 5 * MINUTE))
                base = self.rng.uniform(*job.minutes) * MINUTE
                for name, alertname, target in job.alerts:
                    svc, rule = self.services[name], self.rules[alertname]
                    t = t0 + int(self.rng.integers(0, 15 * MINUTE))
                    for i in range(svc.replicas) if target < 0 else (target,):
                        if svc.first_day <= day:
                            dur = base * self.rng.uniform(0.6, 1.2)
                            self._add(t, dur, svc, rule, i, "prod", rule.severities[0], "batch")

    def _incident(self, t0: int, day: int, env: str, opening: Rule | None = None, kind: str = "incident_root") -> None:
        """A failure of a service picked by weight; ``opening`` (a pure failure rule of it when None) fires first."""
        rng, prod = self.rng, env == "prod"
        root = self._pick_service(day)
        length = min(6 * HOUR, max(15 * MINUTE, rng.lognormal(np.log(HOUR), 0.8)))
        first = opening or self._one(self._rules(root, "p", day))
        pool = [r for r in dict.fromkeys(self._rules(root, "f", day) + self._rules(root, "n", day)) if r is not first]
        burst = [(first, 0.0)] + [
            (pool[i], rng.uniform(5, 30 if rng.random() < 0.4 else 300))
            for i in self._sample(len(pool), int(rng.integers(3, 7)))
        ]
        self._burst(t0, length, root, burst, env, kind if prod else "nonprod", first)
        frontier, seen = [(root, float(t0))], {root.name}
        for hop_p in (0.85, 0.6, 0.35):
            nxt = []
            for svc, ts in frontier:
                deps = [d for d in self.dependents[svc.name] if d.name not in seen and d.first_day <= day]
                for dep in [deps[i] for i in sorted(self._sample(len(deps), 3))]:
                    if rng.random() >= hop_p:
                        continue
                    seen.add(dep.name)
                    td, rules = ts + rng.uniform(MINUTE, 8 * MINUTE), self._rules(dep, "c", day)
                    picks = sorted(self._sample(len(rules), int(rng.integers(1, 4))))
                    cascade = [(rules[i], rng.uniform(0, 120)) for i in picks]
                    left = max(10 * MINUTE, length - (td - t0))
                    self._burst(td, left, dep, cascade, env, "incident_cascade" if prod else "nonprod", None)
                    nxt.append((dep, td))
            frontier = nxt

    def _burst(
        self,
        t0: float,
        length: float,
        svc: Service,
        burst: list[tuple[Rule, float]],
        env: str,
        kind: str,
        first: Rule | None,
    ) -> None:
        rng = self.rng
        for rule, offset in burst:
            sev = "critical" if rule is first else self._sev(rule, 0.6)
            for i in sorted(self._sample(svc.replicas, 1 + int(rng.binomial(svc.replicas - 1, 0.5)))):
                start = t0 + offset + (0.0 if rule is first or rng.random() < 0.6 else rng.uniform(15, 120))
                if rng.random() < 0.3 and t0 + length - start > 20 * MINUTE:  # flaps around its threshold once
                    dur = rng.uniform(2, 8) * MINUTE
                    self._add(start, dur, svc, rule, i, env, sev, kind)
                    start += dur + rng.uniform(1, 5) * MINUTE
                self._add(start, (t0 + length - start) * rng.uniform(0.5, 1.0), svc, rule, i, env, sev, kind)
