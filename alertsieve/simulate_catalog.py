"""The static catalogue behind the alert-stream simulator: services and their dependency graph, the
Prometheus-style alert rules with their severities and text templates, and the recurring noise sources
(chronic warnings, flapping series, replica-wide rules, scheduled batch jobs, rare critical checks), each
with the day it starts and the day it is fixed, which is the week-to-week drift.

``simulate.py`` owns the behaviour (when, where and how often alerts fire and whether they are
actionable); this module owns only names, texts and schedules. Templates are ``str.format`` strings over
``svc``, ``ns``, ``target`` (pod or instance), ``node``, ``v`` (the rule's measured value), the rule's extra
labels, and the volatile ids ``req``, ``uuid``, ``trace``, ``ip`` and ``n``.
"""

from __future__ import annotations

from dataclasses import dataclass

K8S = frozenset({"web", "api", "worker", "ingress", "infra", "batch"})
HOSTS = frozenset({"db", "cache", "queue", "search", "node"})
HTTP = frozenset({"web", "api", "ingress"})
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


@dataclass(frozen=True)
class Rule:
    """An alert rule. Roles: n noisy, f failure, p pure failure (opens an incident, never noise in production),
    c cascade symptom on dependents, a nearly always actionable when critical."""

    name: str
    severities: tuple[str, ...]
    kinds: frozenset[str]
    roles: str
    value: tuple[float, float]
    summary: str
    description: str
    expr: str
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    first_day: int = 0


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

W, C, WC = ("warning",), ("critical",), ("warning", "critical")
ALL, WORKERS = K8S | HOSTS, frozenset({"worker", "batch", "api"})
STATEFUL, QUEUED = frozenset({"db", "queue", "search", "worker", "batch"}), frozenset({"worker", "batch"})
Extra = tuple[tuple[str, tuple[str, ...]], ...]
_CONT: Extra = (("container", ("main", "app", "server")),)
_ROUTE: Extra = (("route", ("/api/v1/orders", "/api/v1/cart", "/checkout", "/healthz", "/api/v2/items", "/login")),)
_CG: Extra = (
    ("consumergroup", ("{svc}-consumer", "{svc}-events")),
    ("topic", ("orders.v1", "payments.v1", "inventory-updates", "clickstream", "emails.outbound")),
)
_DEV: Extra = (("device", ("nvme0n1", "nvme1n1", "xvda")), ("mountpoint", ("/", "/var/lib/data", "/var/log")))
_PVC: Extra = (("persistentvolumeclaim", ("data-{svc}-0", "data-{svc}-1", "wal-{svc}-0")),)
_CERT: Extra = (("secret", ("{svc}-tls", "wildcard-shop-tls", "api-gateway-tls", "internal-ca")),)
_SLO: Extra = (("sloth_service", ("{svc}",)), ("sloth_slo", ("requests-availability", "requests-latency")))
_JOB: Extra = (("job_name", ("{svc}-nightly-etl", "{svc}-compaction", "{svc}-sync")),)
_R = Rule

# fmt: off
RULES: tuple[Rule, ...] = (
    _R("KubePodCrashLooping", WC, K8S, "fp", (1, 1), "Pod {ns}/{target} is crash looping",
       "Pod {ns}/{target} ({container}) is in CrashLoopBackOff, {n} restarts in the last hour; request {req} aborted.",
       'max_over_time(kube_pod_container_status_waiting_reason{{reason="CrashLoopBackOff",namespace="{ns}"}}[5m]) >= 1',
       _CONT),
    _R("KubePodNotReady", W, K8S, "nf", (3, 40), "Pod {ns}/{target} has been not ready for more than 15 minutes",
       "Pod {ns}/{target} readiness probe failing: {v:.0f} consecutive failures, last probe from {ip}.",
       'sum by (namespace, pod) (kube_pod_status_phase{{namespace="{ns}",phase=~"Pending|Unknown"}}) > 0'),
    _R("ContainerOOMKilled", WC, K8S, "nf", (98, 100), "Container {container} in {target} was OOM killed",
       "Container {container} of {ns}/{target} was OOMKilled at {v:.0f}% of its memory limit (request {req}).",
       'kube_pod_container_status_last_terminated_reason{{reason="OOMKilled",namespace="{ns}"}} == 1', _CONT),
    _R("KubeDeploymentReplicasMismatch", W, K8S, "f", (0, 3), "Deployment {ns}/{svc} replicas mismatch",
       "Deployment {ns}/{svc} has {v:.0f} of its desired replicas available for more than 15 minutes.",
       'kube_deployment_spec_replicas{{namespace="{ns}"}} != kube_deployment_status_replicas_available'),
    _R("KubeDeploymentRolloutStuck", W, K8S, "fp", (15, 60), "Rollout of {ns}/{svc} is stuck",
       "Deployment {ns}/{svc} rollout {uuid} has not progressed for {v:.0f} minutes.",
       'kube_deployment_status_condition{{condition="Progressing",status="false",namespace="{ns}"}} != 0'),
    _R("CPUThrottlingHigh", W, K8S, "n", (25, 95), "Processes experience elevated CPU throttling",
       "{v:.1f}% throttling of CPU in namespace {ns} for container {container} in pod {target}.",
       'sum(increase(container_cpu_cfs_throttled_periods_total{{namespace="{ns}"}}[5m])) by (pod) > 0.25', _CONT),
    _R("KubeHpaMaxedOut", W, K8S, "n", (4, 12), "HPA {ns}/{svc} is running at max replicas",
       "HPA {ns}/{svc} has been running at {v:.0f} replicas, its maximum, for more than 15 minutes.",
       'kube_horizontalpodautoscaler_status_current_replicas{{namespace="{ns}"}} == '
       "kube_horizontalpodautoscaler_spec_max_replicas", first_day=15),
    _R("KubeJobFailed", W, frozenset({"batch"}), "f", (1, 1), "Job {ns}/{job_name} failed to complete",
       "Job {ns}/{job_name} failed after {n} attempts; run {uuid}, last pod {target}.",
       'kube_job_failed{{job_name=~".+",namespace="{ns}"}} > 0', _JOB),
    _R("KubeJobNotCompleted", W, frozenset({"batch"}), "n", (60, 240), "Job {ns}/{job_name} did not complete in time",
       "Job {ns}/{job_name} has been running for {v:.0f} minutes (run {uuid}).",
       'time() - kube_job_status_start_time{{namespace="{ns}"}} > 3600', _JOB),
    _R("HighErrorRate", WC, HTTP, "nfc", (2, 35), "High HTTP 5xx error rate on {svc}",
       "{v:.2f}% of requests to {svc} {route} fail with 5xx on {target}; request {req} from {ip}, trace {trace}.",
       'sum by (pod) (rate(http_requests_total{{service="{svc}",code=~"5.."}}[5m])) / '
       'sum by (pod) (rate(http_requests_total{{service="{svc}"}}[5m])) > 0.02', _ROUTE),
    _R("HighLatencyP99", WC, HTTP, "nfc", (520, 4800), "High p99 latency on {svc}",
       "p99 latency of {svc} {route} is {v:.0f}ms on {target} (threshold 500ms); slowest request {req}, trace {trace}.",
       'histogram_quantile(0.99, sum by (le, pod) (rate(http_request_duration_seconds_bucket{{service="{svc}"}}[5m])))'
       " > 0.5", _ROUTE),
    _R("DependencyErrorsHigh", WC, HTTP | {"worker"}, "c", (5, 60), "{svc} sees errors from a dependency",
       "{v:.1f}% of outgoing calls from {target} fail (timeouts and connection resets); request {req}.",
       'sum by (pod) (rate(client_requests_total{{service="{svc}",outcome="error"}}[5m])) > 0.05'),
    _R("CircuitBreakerOpen", C, HTTP | {"worker"}, "cfp", (1, 1), "Circuit breaker open in {svc}",
       "Circuit breaker in {target} opened after {n} failures; calls short-circuited since request {req}.",
       'max by (pod) (resilience4j_circuitbreaker_state{{service="{svc}",state="open"}}) == 1'),
    _R("ContainerMemoryHigh", W, K8S, "n", (90, 99.5), "Container memory above 90% of limit",
       "Container {container} in {target} uses {v:.1f}% of its memory limit.",
       'container_memory_working_set_bytes{{namespace="{ns}"}} / container_spec_memory_limit_bytes > 0.9', _CONT),
    _R("ContainerHighRestarts", W, K8S, "n", (3, 9), "Container restarted {v:.0f} times in 1h",
       "Container {container} in {ns}/{target} restarted {v:.0f} times in the last hour.",
       'increase(kube_pod_container_status_restarts_total{{namespace="{ns}"}}[1h]) > 3', _CONT),
    _R("SLOErrorBudgetBurn", WC, HTTP, "cf", (6, 40), "{svc} is burning its error budget",
       "SLO {sloth_slo} of {svc} burns its budget at {v:.1f}x over 1h and 5m (page at 14.4x).",
       'slo:sli_error:ratio_rate1h{{sloth_service="{svc}"}} > (14.4 * (1 - 0.999))', _SLO, 14),
    _R("QueueBacklogHigh", W, QUEUED, "nc", (5000, 90000), "Backlog of queue {queue} is growing",
       "{v:.0f} messages waiting in {queue}, oldest for {n} minutes (consumer {target}).",
       'sum by (queue) (queue_messages_ready{{namespace="{ns}"}}) > 5000', (("queue", ("emails", "webhooks")),)),
    _R("GrpcServerErrorsHigh", WC, frozenset({"api"}), "nfc", (1, 30), "gRPC server errors on {svc}",
       "{v:.2f}% of gRPC calls to {svc} end with UNAVAILABLE or INTERNAL on {target}; call {req}.",
       'sum by (pod) (rate(grpc_server_handled_total{{service="{svc}",grpc_code!="OK"}}[5m])) > 0.01', first_day=28),
    _R("KafkaConsumerLag", WC, WORKERS, "nc", (1e4, 9e5), "Consumer group {consumergroup} is lagging",
       "Consumer group {consumergroup} lags {v:.0f} messages on topic {topic} (partition {n}).",
       'sum by (consumergroup, topic) (kafka_consumergroup_lag{{consumergroup=~"{svc}.*"}}) > 10000', _CG),
    _R("NginxHigh5xxRate", WC, frozenset({"ingress"}), "nfc", (2, 40), "Ingress returns many 5xx",
       "{v:.2f}% of requests through {target} answer 5xx for host {host}; sample request {req} from {ip}.",
       'sum by (pod, host) (rate(nginx_ingress_controller_requests{{status=~"5.."}}[5m])) > 0.05',
       (("host", ("shop.example.com", "api.example.com", "m.example.com")),)),
    _R("NginxConfigReloadFailed", C, frozenset({"ingress"}), "fp", (0, 0), "Ingress controller config reload failed",
       "Controller {target} failed to reload its configuration (checksum {uuid}).",
       "nginx_ingress_controller_config_last_reload_successful == 0"),
    _R("CertificateExpiringSoon", WC, frozenset({"ingress", "infra"}), "a", (8, 29),
       "Certificate {secret} expires in {v:.0f} days",
       "Certificate in secret {ns}/{secret} expires in {v:.1f} days (serial {uuid}); renewal not yet done.",
       'certmanager_certificate_expiration_timestamp_seconds{{namespace="{ns}"}} - time() < 30 * 86400', _CERT),
    _R("TargetDown", W, ALL, "nf", (10, 100), "{v:.0f}% of the {svc} targets are down",
       "{v:.0f}% of the {svc} targets in {ns} are down; last failed scrape of {target} from {ip}.",
       'up{{job="{svc}"}} == 0'),
    _R("PrometheusRuleFailures", W, frozenset({"infra"}), "f", (1, 1), "Prometheus is failing rule evaluations",
       "Prometheus {target} failed to evaluate {n} rules in the last 5 minutes (group {uuid}).",
       "increase(prometheus_rule_evaluation_failures_total[5m]) > 0"),
    _R("PrometheusTSDBCompactionsFailing", C, frozenset({"infra"}), "fp", (1, 1), "Prometheus compactions fail",
       "Prometheus {target} detected {n} compaction failures over the last 3h.",
       "increase(prometheus_tsdb_compactions_failed_total[3h]) > 0"),
    _R("AlertmanagerFailedToSendAlerts", W, frozenset({"infra"}), "nf", (1, 30), "Alertmanager failed to send alerts",
       "Alertmanager {target} failed to send {v:.1f}% of notifications to integration webhook (request {req}).",
       "rate(alertmanager_notifications_failed_total[5m]) > 0.01"),
    _R("PostgresDown", C, frozenset({"db"}), "fp", (0, 0), "PostgreSQL instance {target} is down",
       "PostgreSQL on {target} is not responding; last successful scrape {n}s ago.", 'pg_up{{job="{svc}"}} == 0'),
    _R("PostgresReplicationLag", WC, frozenset({"db"}), "nf", (30, 900), "PostgreSQL replication lag on {target}",
       "Replica {target} is {v:.0f} seconds behind the primary (slot {uuid}).",
       'pg_replication_lag_seconds{{job="{svc}"}} > 30'),
    _R("PostgresTooManyConnections", WC, frozenset({"db"}), "nf", (80, 100), "PostgreSQL has too many connections",
       "{target} uses {v:.0f}% of max_connections; newest client {ip}.",
       'sum by (instance) (pg_stat_activity_count{{job="{svc}"}}) / pg_settings_max_connections > 0.8'),
    _R("PostgresSlowQueries", W, frozenset({"db"}), "n", (5, 120), "PostgreSQL slow queries on {target}",
       "{n} queries on {target} ran longer than {v:.0f}s in the last 5 minutes; slowest queryid {req}.",
       'rate(pg_stat_statements_seconds_total{{job="{svc}"}}[5m]) > 0.5'),
    _R("PostgresDeadlocks", W, frozenset({"db"}), "f", (5, 60), "PostgreSQL deadlocks on {target}",
       "{v:.0f} deadlocks per minute on {target} database {datname}.",
       'increase(pg_stat_database_deadlocks{{job="{svc}"}}[1m]) > 5', (("datname", ("shop", "payments", "identity")),)),
    _R("BackupFailed", C, frozenset({"db"}), "a", (5, 90), "Backup of {target} failed",
       "Nightly base backup {uuid} of {target} failed after {v:.0f} minutes; WAL archive is behind.",
       'time() - pg_backup_last_success_timestamp{{job="{svc}"}} > 26 * 3600'),
    _R("RedisDown", C, frozenset({"cache"}), "fp", (0, 0), "Redis instance {target} is down",
       "Redis on {target} is not reachable ({n} failed pings).", 'redis_up{{job="{svc}"}} == 0'),
    _R("RedisMemoryHigh", W, frozenset({"cache"}), "n", (90, 99), "Redis memory above 90%",
       "Redis {target} uses {v:.1f}% of maxmemory; {n} keys evicted in the last minute.",
       'redis_memory_used_bytes{{job="{svc}"}} / redis_memory_max_bytes > 0.9'),
    _R("RedisRejectedConnections", W, frozenset({"cache"}), "f", (1, 1), "Redis rejects connections",
       "Redis {target} rejected {n} connections in the last minute; last client {ip}.",
       'increase(redis_rejected_connections_total{{job="{svc}"}}[1m]) > 0'),
    _R("RedisReplicationBroken", C, frozenset({"cache"}), "fp", (0, 0), "Redis replication broken on {target}",
       "Redis replica {target} lost its link to the master {n} seconds ago.",
       'delta(redis_connected_slaves{{job="{svc}"}}[1m]) < 0'),
    _R("KafkaUnderReplicatedPartitions", W, frozenset({"queue"}), "f", (1, 48), "Kafka has under-replicated partitions",
       "Broker {target} reports {v:.0f} under-replicated partitions on topic {topic}.",
       'sum by (instance, topic) (kafka_topic_partition_under_replicated_partition{{job="{svc}"}}) > 0',
       (("topic", ("orders.v1", "payments.v1", "clickstream")),)),
    _R("KafkaOfflinePartitions", C, frozenset({"queue"}), "fp", (1, 24), "Kafka has offline partitions",
       "{v:.0f} partitions have no leader; controller {target}.",
       'kafka_controller_kafkacontroller_offlinepartitionscount{{job="{svc}"}} > 0'),
    _R("KafkaBrokerOffline", C, frozenset({"queue"}), "fp", (0, 0), "Kafka broker {target} is offline",
       "Broker {target} left the cluster {n} seconds ago; ISR shrinking.", 'kafka_brokers{{job="{svc}"}} < 3'),
    _R("ElasticsearchClusterRed", C, frozenset({"search"}), "fp", (1, 30), "Elasticsearch cluster is red",
       "Cluster health is red: {v:.0f} primary shards unassigned (node {target}).",
       'elasticsearch_cluster_health_status{{color="red",job="{svc}"}} == 1'),
    _R("ElasticsearchClusterYellow", W, frozenset({"search"}), "nf", (1, 60), "Elasticsearch cluster is yellow",
       "Cluster health is yellow: {v:.0f} replica shards unassigned (node {target}).",
       'elasticsearch_cluster_health_status{{color="yellow",job="{svc}"}} == 1'),
    _R("ElasticsearchHeapUsageHigh", W, frozenset({"search"}), "n", (85, 98), "Elasticsearch heap usage is high",
       "Heap of {target} at {v:.1f}%; old-gen GC took {n}ms.",
       'elasticsearch_jvm_memory_used_bytes{{area="heap"}} / elasticsearch_jvm_memory_max_bytes > 0.85'),
    _R("NodeDiskPressure", W, HOSTS, "nf", (85, 99), "Node {node} has disk pressure",
       "Node {node} ({target}) reports DiskPressure; {v:.1f}% of {mountpoint} used.",
       'kube_node_status_condition{{condition="DiskPressure",status="true"}} == 1', _DEV),
    _R("DiskWillFillIn4Hours", W, HOSTS, "nf", (2, 20), "Disk {device} on {node} will fill within 4 hours",
       "Filesystem {mountpoint} on {target} ({device}) is predicted to run out of space; {v:.1f}% free now.",
       'predict_linear(node_filesystem_avail_bytes{{job="{svc}"}}[6h], 4 * 3600) < 0', _DEV),
    _R("NodeFilesystemAlmostFull", WC, HOSTS, "n", (1, 10), "Filesystem {mountpoint} on {node} is almost full",
       "Filesystem {mountpoint} on {target} has only {v:.1f}% available space left.",
       'node_filesystem_avail_bytes{{job="{svc}"}} / node_filesystem_size_bytes < 0.1', _DEV),
    _R("NodeCPUHigh", W, HOSTS, "n", (90, 100), "CPU usage on {node} above 90%",
       "CPU of {target} busy at {v:.1f}% for 10 minutes; top process pid {n}.",
       '1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle",job="{svc}"}}[5m])) > 0.9'),
    _R("NodeDiskIOSaturation", W, HOSTS, "n", (10, 80), "Disk IO saturated on {node}",
       "Disk {device} on {target} has an IO queue of {v:.1f} for more than 10 minutes.",
       'rate(node_disk_io_time_weighted_seconds_total{{job="{svc}"}}[5m]) > 10', _DEV),
    _R("NodeNetworkReceiveErrs", W, HOSTS, "n", (10, 500), "Network interface on {node} reports receive errors",
       "{target} interface {interface} saw {v:.0f} receive errors in 2 minutes.",
       'increase(node_network_receive_errs_total{{job="{svc}"}}[2m]) > 10', (("interface", ("eth0", "ens5")),)),
    _R("NodeClockSkewDetected", W, HOSTS, "n", (0.05, 2), "Clock skew detected on {node}",
       "Clock on {target} is out of sync by {v:.3f} seconds.", "node_timex_offset_seconds > 0.05"),
    _R("KubeNodeNotReady", C, frozenset({"node"}), "fp", (0, 0), "Node {node} is not ready",
       "Node {node} ({target}) has been NotReady for {n} minutes; kubelet last heartbeat {uuid}.",
       'kube_node_status_condition{{condition="Ready",status="true"}} == 0'),
    _R("KubePersistentVolumeFillingUp", WC, STATEFUL, "na", (1, 3), "Volume {persistentvolumeclaim} is filling up",
       "Volume claimed by {ns}/{persistentvolumeclaim} on {target} has {v:.1f}% free space.",
       'kubelet_volume_stats_available_bytes{{namespace="{ns}"}} / kubelet_volume_stats_capacity_bytes < 0.03', _PVC),
)

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
