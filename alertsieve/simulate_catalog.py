"""The static catalogue behind the alert-stream simulator: the services and their dependency graph, and the
recurring noise sources (chronic warnings, flapping series, replica-wide rules, scheduled batch jobs, rare
critical checks), each with the day it starts and the day it is fixed, which is the week-to-week drift.

The rules themselves (names, severities, texts) are in ``simulate_rules`` and re-exported here; the
profile modules (``simulate_default``, ``simulate_sparse``) own the behaviour: when, where and how often
alerts fire and whether they are actionable. This module owns only names and schedules.
"""

from __future__ import annotations

from dataclasses import dataclass

from alertsieve.simulate_rules import HOSTS, HTTP, K8S, PLATFORM_RULES, RULES, Rule

__all__ = [
    "BATCH_JOBS",
    "CHRONIC",
    "CRITICAL_RULES",
    "FLAPPING",
    "HOSTS",
    "HTTP",
    "K8S",
    "PLATFORM_RULES",
    "PORTS",
    "REPLICA",
    "RULES",
    "SERVICES",
    "BatchJob",
    "Rule",
    "Service",
]
PORTS = {"db": 9187, "cache": 9121, "queue": 9308, "search": 9114, "node": 9100}


@dataclass(frozen=True)
class Service:
    """A monitored service; ``label`` is the one label that names it (only its namespace when "namespace")."""

    name: str
    label: str
    namespace: str
    kind: str
    replicas: int
    depends_on: tuple[str, ...] = ()
    first_day: int = 0
    weight: float = 1.0


def _s(name: str, label: str, ns: str, kind: str, n: int, deps: str = "", day: int = 0, w: float = 1.0) -> Service:
    return Service(name, label, ns, kind, n, tuple(deps.split()), day, w)


SERVICES: tuple[Service, ...] = (
    _s("frontend", "service", "shop", "web", 4, "checkout catalog cart search auth recommendations", w=2),
    _s("api-gateway", "service", "edge", "api", 4, "auth checkout catalog orders", w=1.5),
    _s("checkout", "service", "shop", "api", 3, "payments cart inventory shipping orders loyalty", w=1.5),
    _s("payments", "service", "payments", "api", 3, "postgres-payments kafka fraud-detection", w=1.5),
    _s("cart", "service", "shop", "api", 3, "redis-cart"),
    _s("catalog", "service", "shop", "api", 3, "postgres-main redis-cache search"),
    _s("inventory", "service", "shop", "api", 2, "postgres-main kafka"),
    _s("orders", "service", "shop", "api", 3, "postgres-main kafka"),
    _s("shipping", "service", "logistics", "api", 2, "postgres-main kafka"),
    _s("search", "app", "search", "api", 2, "elasticsearch"),
    _s("auth", "app", "identity", "api", 3, "postgres-main redis-cache", w=1.2),
    _s("notifications", "app", "comms", "worker", 2, "kafka email-gateway"),
    _s("email-gateway", "app", "comms", "api", 2),
    _s("reporting", "app", "analytics", "api", 2, "postgres-main", w=0.7),
    _s("postgres-main", "job", "db", "db", 3, w=1.5),
    _s("postgres-payments", "job", "payments", "db", 2),
    _s("redis-cache", "job", "cache", "cache", 3),
    _s("redis-cart", "job", "shop", "cache", 2),
    _s("kafka", "job", "streaming", "queue", 3, w=1.2),
    _s("elasticsearch", "job", "search", "search", 3),
    _s("node-exporter", "job", "monitoring", "node", 6, w=0.8),
    _s("ingress-nginx", "namespace", "ingress-nginx", "ingress", 3, "frontend api-gateway", w=1.2),
    _s("cert-manager", "namespace", "cert-manager", "infra", 1, w=0.3),
    _s("monitoring", "namespace", "monitoring", "infra", 2, w=0.5),
    _s("data-pipeline", "namespace", "data-pipeline", "batch", 4, "postgres-main kafka", w=0.8),
    _s("recommendations", "app", "ml", "api", 2, "redis-cache kafka catalog", day=10),
    _s("loyalty", "service", "shop", "api", 2, "postgres-main orders", day=17),
    _s("fraud-detection", "job", "payments", "worker", 2, "kafka postgres-payments", day=24),
)
# fmt: off
# (service, alertname, target index, first day, last day or None): warnings nobody acts on, for weeks.
CHRONIC: tuple[tuple[str, str, int, int, int | None], ...] = (
    ("cert-manager", "CertificateExpiringSoon", 0, 0, None), ("postgres-main", "PostgresReplicationLag", 2, 0, 30),
    ("data-pipeline", "KubeDeploymentReplicasMismatch", 0, 0, None), ("notifications", "KafkaConsumerLag", 0, 0, None),
    ("node-exporter", "NodeFilesystemAlmostFull", 4, 0, 20),
    ("elasticsearch", "ElasticsearchClusterYellow", 0, 8, None),
    ("monitoring", "TargetDown", 1, 0, None), ("redis-cache", "RedisMemoryHigh", 1, 0, 40),
    ("email-gateway", "CPUThrottlingHigh", 0, 0, None), ("node-exporter", "NodeClockSkewDetected", 2, 12, None),
    ("reporting", "KubePodCrashLooping", 1, 0, 26), ("search", "ContainerMemoryHigh", 0, 0, None),
    ("shipping", "KubeHpaMaxedOut", 0, 16, None), ("kafka", "KubePersistentVolumeFillingUp", 1, 0, 35),
    ("recommendations", "ContainerMemoryHigh", 1, 12, None),
)
# (service, alertname, target index, first day, last day or None): fire/resolve cycles minutes apart.
FLAPPING: tuple[tuple[str, str, int, int, int | None], ...] = (
    ("ingress-nginx", "NginxHigh5xxRate", 1, 0, None), ("payments", "HighLatencyP99", 0, 0, 18),
    ("data-pipeline", "KafkaConsumerLag", 2, 0, None), ("node-exporter", "NodeNetworkReceiveErrs", 3, 0, None),
    ("catalog", "HighErrorRate", 1, 25, None), ("auth", "ContainerMemoryHigh", 0, 10, 40),
    ("monitoring", "AlertmanagerFailedToSendAlerts", 0, 0, 33),
    ("postgres-main", "PostgresTooManyConnections", 0, 30, None),
    ("orders", "KubePodNotReady", 2, 0, None), ("loyalty", "HighLatencyP99", 1, 20, None),
)
# (service, alertname, episodes per day, first day, last day or None): one rule on every replica at once.
REPLICA: tuple[tuple[str, str, float, int, int | None], ...] = (
    ("checkout", "CPUThrottlingHigh", 3.0, 0, None), ("frontend", "ContainerMemoryHigh", 2.0, 0, None),
    ("cart", "HighLatencyP99", 1.5, 0, 30), ("api-gateway", "HighErrorRate", 1.2, 20, None),
    ("elasticsearch", "ElasticsearchHeapUsageHigh", 1.5, 0, None),
)
# fmt: on


@dataclass(frozen=True)
class BatchJob:
    """A scheduled job and the alerts it causes: (service, alertname, target index or -1 for every replica)."""

    name: str
    hours: tuple[int, ...]
    minute: int
    weekday: int | None
    alerts: tuple[tuple[str, str, int], ...]
    minutes: tuple[int, int]
    probability: float = 0.9
    first_day: int = 0


# fmt: off
BATCH_JOBS: tuple[BatchJob, ...] = (
    BatchJob("postgres-backup", (2,), 0, None,
             (("postgres-main", "NodeDiskIOSaturation", 1), ("postgres-main", "PostgresSlowQueries", 1)), (20, 70)),
    BatchJob("nightly-etl", (3,), 0, None,
             (("data-pipeline", "CPUThrottlingHigh", -1), ("data-pipeline", "KubeJobNotCompleted", 0),
              ("postgres-main", "PostgresSlowQueries", 0), ("reporting", "HighLatencyP99", 0)), (30, 100)),
    BatchJob("kafka-log-compaction", (0,), 30, None, (("kafka", "NodeDiskIOSaturation", -1),), (15, 45), 0.7),
    BatchJob("inventory-sync", (0, 6, 12, 18), 15, None, (("inventory", "HighLatencyP99", 0),), (5, 20), 0.5),
    BatchJob("search-reindex", (4,), 0, 6,
             (("elasticsearch", "NodeCPUHigh", -1), ("elasticsearch", "ElasticsearchHeapUsageHigh", 0),
              ("search", "HighLatencyP99", 0), ("search", "HighLatencyP99", 1)), (40, 120), 0.95),
    BatchJob("weekly-vacuum", (1,), 0, 6,
             (("postgres-main", "NodeCPUHigh", 0), ("postgres-main", "PostgresReplicationLag", 1)), (30, 90)),
    BatchJob("ml-training", (1,), 30, None,
             (("recommendations", "CPUThrottlingHigh", -1), ("redis-cache", "NodeCPUHigh", 0)), (30, 80), 0.85, 12),
)
# (service, alertname, rate per day in production, hour the check runs or -1 for any time): fired critical.
CRITICAL_RULES: tuple[tuple[str, str, float, int], ...] = (
    ("postgres-main", "BackupFailed", 0.06, 2), ("postgres-payments", "BackupFailed", 0.05, 2),
    ("cert-manager", "CertificateExpiringSoon", 0.12, -1), ("ingress-nginx", "CertificateExpiringSoon", 0.06, -1),
    ("kafka", "KubePersistentVolumeFillingUp", 0.08, -1), ("postgres-main", "KubePersistentVolumeFillingUp", 0.06, -1),
)
# fmt: on
