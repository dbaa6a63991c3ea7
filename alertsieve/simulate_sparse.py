"""The sparse simulator profile: an alert stream shaped like real ones, where incidents are rare.

This module owns what ``simulate.simulate_history(..., profile="sparse")`` does. It reuses the default
profile's catalogue, noise sources and helpers (``simulate_default``) and changes the proportions:

- Clusters (``CLUSTERS``, a ``cluster`` label on every alert): the same services with the same rules and
  noise sources run as parallel copies in several clusters; new production clusters appear in later weeks
  (day 31 and day 45), so their fingerprints are new while their alert types are old. A staging cluster
  (``env=staging``) carries noise and incident-like bursts nobody is paged for (kind ``nonprod``).
- Noise: transient spikes of each service's 2-3 usual noisy rules, fleet-wide single-target blips of the
  ``FAMILIAR`` rules (scrape failures, pods not ready), platform warnings (``PLATFORM_RULES``: quotas,
  waiting containers, failed systemd units ...), rare one-off failure-type alerts nobody acts on, and per
  cluster most of the default profile's chronic, flapping, replica, batch and deploy sources. Most alert
  types (about 40 of 55) are never actionable, and they make up most of the stream.
- Incidents: 4-7 per 30 days (``INCIDENTS_PER_30_DAYS``, at least two days apart), each in one production
  cluster, lasting 15 minutes to 4 hours, mixing unfamiliar and familiar alerts: ``incident_root`` is a
  pure-failure rule at critical on the root service plus failure rules that are not routine noise anywhere;
  ``incident_cascade`` are symptom rules (dependency errors, open circuit breakers, SLO burn) on the
  services that depend on it, up to two hops, which never fire as noise; ``incident_burst`` is one
  ``FAMILIAR`` rule firing within two minutes on every replica of the affected services and of 2-4
  co-located ones: an unusual burst of a usual alert.
- No signal: every production alert of ``NO_SIGNAL_SERVICE`` comes from its own noise processes (its usual
  rules at its own rhythm, its chronic, batch and deploy alerts; it is in no incident) and is labelled
  actionable (kind ``no_signal``) at random with probability ``NO_SIGNAL_SHARE``, so nothing tells its
  actionable alerts from its noise; the right answer there is to suppress little.

About 1-2% of the alerts are actionable (1.0-2.1% over seeds 1-30 for 56 days). One ``numpy`` Generator
draws everything, so the output is fixed by the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from alertsieve import simulate_catalog as cat
from alertsieve.simulate_catalog import Rule, Service
from alertsieve.simulate_default import DEPLOY_RULES, DefaultSimulator
from alertsieve.simulate_events import DAY, HOUR, MINUTE

NO_SIGNAL_SERVICE = "reporting"
NO_SIGNAL_SHARE = 0.12
SPARSE_NOISE_KINDS = ("flapping", "transient", "chronic", "batch", "replica", "deploy", "nonprod")
SPARSE_ACTIONABLE_KINDS = ("incident_root", "incident_cascade", "incident_burst", "no_signal")
FAMILIAR = ("TargetDown", "KubePodNotReady")
INCIDENTS_PER_30_DAYS, INCIDENT_GAP = (4, 7), 2 * DAY
# Per cluster-day at volume 1: transient spikes, familiar blips, platform warnings, the no-signal service's
# own alerts, one-off failure-type alerts, flapping episodes per source, replica episodes (times the default).
TRANSIENTS, FAMILIAR_BLIPS, PLATFORM, NO_SIGNAL_ALERTS, ONE_OFFS, FLAPS, REPLICAS = 56.0, 12.0, 30.0, 3.5, 0.4, 0.5, 0.6
SOURCE_SHARE = 0.7  # share of the recurring noise sources a cluster other than the first one has
STAGING_ALERTS, STAGING_BURSTS = 90.0, 0.15


@dataclass(frozen=True)
class Cluster:
    """A Kubernetes cluster running a copy of the fleet from ``first_day``; ``volume`` scales its noise."""

    name: str
    env: str
    region: str
    first_day: int
    volume: float


CLUSTERS: tuple[Cluster, ...] = (
    Cluster("prod-eu-west-1", "prod", "eu-west-1", 0, 1.0),
    Cluster("prod-us-east-1", "prod", "us-east-1", 0, 0.8),
    Cluster("staging-eu-west-1", "staging", "eu-west-1", 0, 0.4),
    Cluster("prod-eu-central-1", "prod", "eu-central-1", 31, 0.7),
    Cluster("prod-ap-southeast-1", "prod", "ap-southeast-1", 45, 0.6),
)


class SparseSimulator(DefaultSimulator):
    """The sparse profile: ``run()`` fills ``events`` cluster by cluster, ``alerts()`` renders them."""

    actionable_kinds = frozenset(SPARSE_ACTIONABLE_KINDS)

    def __init__(self, days: int, seed: int, start: datetime) -> None:
        super().__init__(days, seed, start)
        self.regions = {c.name: c.region for c in CLUSTERS}
        self.deploys = {(c.name, s.name): self._deploy_times() for c in CLUSTERS for s in cat.SERVICES}
        n_sources = len(cat.CHRONIC) + len(cat.FLAPPING) + len(cat.REPLICA)
        self.present = {
            c.name: self.rng.random(n_sources) < (SOURCE_SHARE if i else 1.0) for i, c in enumerate(CLUSTERS)
        }
        scheduled = [a for *_, a in cat.FLAPPING] + [s[1] for s in cat.CHRONIC + cat.REPLICA]
        scheduled += [a for job in cat.BATCH_JOBS for _, a, _ in job.alerts]
        # rule names that fire as routine noise somewhere: incidents add unfamiliar rules from outside them
        self.routine = {*FAMILIAR, *scheduled, *(r.name for rules in self.noisy.values() for r in rules)}
        self.dependents = {k: [d for d in v if d.name != NO_SIGNAL_SERVICE] for k, v in self.dependents.items()}

    def _add(self, t: float, dur: float, svc: Service, rule: Rule, i: int, env: str, sev: str, kind: str) -> None:
        if svc.name == NO_SIGNAL_SERVICE and env == "prod" and self.rng.random() < NO_SIGNAL_SHARE:
            kind = "no_signal"
        super()._add(t, dur, svc, rule, i, env, sev, kind)

    def _pick_other(self, day: int) -> Service:
        """A service by weight, never the no-signal one (it has its own rhythm and no incidents)."""
        while (svc := self._pick_service(day)).name == NO_SIGNAL_SERVICE:
            pass
        return svc

    def run(self) -> None:
        for day in range(self.days):
            weekend = 0.7 if self._weekday(day) >= 5 else 1.0
            for cluster in CLUSTERS:
                if cluster.first_day <= day:
                    self.cluster, level = cluster.name, self.week_noise[day // 7] * weekend * cluster.volume
                    (self._prod_day if cluster.env == "prod" else self._staging_day)(day, level)
        for cluster in (c for c in CLUSTERS if c.env == "prod"):
            self.cluster = cluster.name
            self._chronic_and_deploys(cluster)
        prod = [c for c in CLUSTERS if c.env == "prod"]
        for t in self._incident_times():
            live = [c for c in prod if c.first_day * DAY <= t]
            weights = np.array([c.volume for c in live])
            self.cluster = live[int(self.rng.choice(len(live), p=weights / weights.sum()))].name
            self._sparse_incident(t, t // DAY, "prod")
        self.cluster = ""

    def _incident_times(self) -> list[int]:
        lo, hi = (round(k * self.days / 30) for k in INCIDENTS_PER_30_DAYS)
        room = self.horizon - 4 * HOUR
        n = min(int(self.rng.integers(lo, hi + 1)), room // INCIDENT_GAP + 1)
        if n <= 0:
            return []
        starts = np.sort(self.rng.uniform(0, room - (n - 1) * INCIDENT_GAP, size=n))
        return [int(u) + i * INCIDENT_GAP for i, u in enumerate(starts)]

    def _prod_day(self, day: int, level: float) -> None:
        rng, present = self.rng, self.present[self.cluster]
        for t in self._times(TRANSIENTS * level, day):
            svc = self._pick_other(day)
            self._spike(t, svc, self._one(self._usual(svc, day)), 0.05)
        for t in self._times(FAMILIAR_BLIPS * level, day):
            svc = self._pick_other(day)
            self._spike(t, svc, self._one([self.rules[n] for n in FAMILIAR if svc.kind in self.rules[n].kinds]), 0.0)
        for t in self._times(PLATFORM * level, day):
            svc = self._pick_other(day)
            self._spike(t, svc, self._one([r for r in cat.PLATFORM_RULES if svc.kind in r.kinds]), 0.0)
        for t in self._times(NO_SIGNAL_ALERTS * level, day):
            svc = self.services[NO_SIGNAL_SERVICE]
            self._spike(t, svc, self._one(self._usual(svc, day)), 0.05)
        for t in self._times(ONE_OFFS * level, day):
            svc = self._pick_other(day)
            rules = [r for r in self._rules(svc, "f", day) if "p" not in r.roles]
            if rules:
                self._spike(t, svc, self._one(rules), 0.0)
        offset = len(cat.CHRONIC)
        for k, (name, alertname, target, first, last) in enumerate(cat.FLAPPING):
            if present[offset + k] and first <= day < (last or self.days) and self.services[name].first_day <= day:
                for t in self._times(FLAPS * level, day, diurnal=False):
                    self._flap(t, self.services[name], self.rules[alertname], target, "prod", "flapping")
        offset += len(cat.FLAPPING)
        for k, (name, alertname, rate, first, last) in enumerate(cat.REPLICA):
            svc, rule = self.services[name], self.rules[alertname]
            if present[offset + k] and first <= day < (last or self.days) and svc.first_day <= day:
                for t in self._times(rate * REPLICAS * level, day):
                    for i in range(svc.replicas):
                        self._add(t, rng.uniform(3, 25) * MINUTE, svc, rule, i, "prod", rule.severities[0], "replica")
        self._batch(day)

    def _usual(self, svc: Service, day: int) -> list[Rule]:
        """The service's 2-3 usual noisy rules (any noisy rule of its kind before they exist)."""
        return [r for r in self.noisy[svc.name] if r.first_day <= day] or self._rules(svc, "n", day)

    def _spike(self, t: int, svc: Service, rule: Rule, p_critical: float, env: str = "prod") -> None:
        dur = min(30 * MINUTE, max(MINUTE, self.rng.lognormal(np.log(4 * MINUTE), 0.6)))
        kind = "transient" if env == "prod" else "nonprod"
        self._add(t, dur, svc, rule, int(self.rng.integers(svc.replicas)), env, self._sev(rule, p_critical), kind)

    def _staging_day(self, day: int, level: float) -> None:
        for t in self._times(STAGING_ALERTS * level, day):
            svc = self._pick_service(day)
            self._spike(t, svc, self._one(self._rules(svc, "n", day) + self._rules(svc, "f", day)), 0.2, "staging")
        for t in self._times(STAGING_BURSTS, day):
            self._sparse_incident(t, day, "staging")

    def _chronic_and_deploys(self, cluster: Cluster) -> None:
        rng, present = self.rng, self.present[cluster.name]
        for k, (name, alertname, target, first, last) in enumerate(cat.CHRONIC):
            svc, rule = self.services[name], self.rules[alertname]
            t = max(first, svc.first_day, cluster.first_day) * DAY + rng.uniform(0, 10 * HOUR)
            while present[k] and t < min(self.horizon, (last or self.days) * DAY):
                dur = rng.uniform(2, 14) * HOUR
                self._add(t, dur, svc, rule, target, "prod", rule.severities[0], "chronic")
                t += dur + rng.uniform(0.5, 10) * HOUR
        for svc in cat.SERVICES:
            rules = [self.rules[n] for n in DEPLOY_RULES if svc.kind in self.rules[n].kinds]
            for t in self.deploys[cluster.name, svc.name]:
                if rules and max(svc.first_day, cluster.first_day) * DAY <= t and rng.random() < 0.5:
                    rule, pod = self._one(rules), int(rng.integers(svc.replicas))
                    t1, dur = t + rng.uniform(10, 180), rng.uniform(1, 6) * MINUTE
                    self._add(t1, dur, svc, rule, pod, "prod", "warning", "deploy")

    def _sparse_incident(self, t0: int, day: int, env: str) -> None:
        rng, prod = self.rng, env == "prod"
        root = self._pick_other(day)
        length = min(4 * HOUR, max(15 * MINUTE, rng.lognormal(np.log(50 * MINUTE), 0.7)))
        pure = self._rules(root, "p", day)
        first = self._one([r for r in pure if r.name not in self.routine] or pure)
        pool = [r for r in self._rules(root, "f", day) if r is not first and r.name not in self.routine]
        extra = self._sample(len(pool), int(rng.integers(1, 3)))
        burst = [(first, 0.0)] + [(pool[i], rng.uniform(5, 300)) for i in extra]
        self._burst(t0, length, root, burst, env, "incident_root" if prod else "nonprod", first)
        hit, frontier = [root], [(root, float(t0))]
        for hop_p in (0.8, 0.45):
            nxt = []
            for svc, ts in frontier:
                deps = [d for d in self.dependents[svc.name] if d not in hit and d.first_day <= day]
                for dep in [deps[i] for i in sorted(self._sample(len(deps), 3))]:
                    if rng.random() >= hop_p:
                        continue
                    td = ts + rng.uniform(MINUTE, 6 * MINUTE)
                    rules = [r for r in self._rules(dep, "c", day) if r.name not in self.routine]
                    picks = sorted(self._sample(len(rules), int(rng.integers(1, 3))))
                    cascade = [(rules[i], rng.uniform(0, 120)) for i in picks]
                    left = max(10 * MINUTE, length - (td - t0))
                    self._burst(td, left, dep, cascade, env, "incident_cascade" if prod else "nonprod", None)
                    hit.append(dep)
                    nxt.append((dep, td))
            frontier = nxt
        for _ in range(int(rng.integers(2, 5))):  # co-located services caught by the same failure
            while (other := self._pick_other(day)) in hit:
                pass
            hit.append(other)
        self._familiar_burst(t0 + rng.uniform(MINUTE, 10 * MINUTE), hit, env, "incident_burst" if prod else "nonprod")

    def _familiar_burst(self, t0: float, services: list[Service], env: str, kind: str) -> None:
        rng = self.rng
        rules = [self.rules[n] for n in FAMILIAR if sum(s.kind in self.rules[n].kinds for s in services) >= 3]
        rule = self._one(rules or [self.rules["TargetDown"]])
        dur = rng.uniform(5, 40) * MINUTE
        for svc in services:
            for i in range(svc.replicas) if svc.kind in rule.kinds else ():
                t, sev = t0 + rng.uniform(0, 120), self._sev(rule, 0.3)
                self._add(t, dur * rng.uniform(0.7, 1.3), svc, rule, i, env, sev, kind)
