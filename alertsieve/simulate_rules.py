"""The alert rules of the simulated fleet: names, severities, the service kinds they apply to, their roles
(noisy, failure, pure failure, cascade symptom, nearly always actionable), value ranges, summary and
description templates and PromQL expressions.

This module owns only the rules' names and texts; ``simulate_catalog`` owns the services and the noise
schedules, the profile modules (``simulate_default``, ``simulate_sparse``) own when rules fire. Templates
are ``str.format`` strings over ``svc``, ``ns``, ``target`` (pod or instance), ``node``, ``v`` (the rule's
measured value), the rule's extra labels, and the volatile ids ``req``, ``uuid``, ``trace``, ``ip`` and ``n``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Service kinds: the rules say which kinds they apply to; hosts are scraped by instance, the rest are pods.
K8S = frozenset({"web", "api", "worker", "ingress", "infra", "batch"})
HOSTS = frozenset({"db", "cache", "queue", "search", "node"})
HTTP = frozenset({"web", "api", "ingress"})


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

# Platform warnings of the cluster stack (kube-prometheus style) that fire everywhere and page nobody; only
# the sparse profile fires them (they are not in RULES, so the default profile's output is unchanged).
PLATFORM_RULES: tuple[Rule, ...] = (
    _R("KubeContainerWaiting", W, K8S, "n", (60, 240), "Pod container waiting longer than 1 hour",
       "Pod {ns}/{target} container {container} has been in waiting state for {v:.0f} minutes.",
       'sum by (namespace, pod, container) (kube_pod_container_status_waiting_reason{{namespace="{ns}"}}) > 0',
       _CONT),
    _R("KubeQuotaAlmostFull", W, K8S, "n", (90, 100), "Namespace {ns} quota is going to be full",
       "Namespace {ns} is using {v:.0f}% of its {resource} quota (last admitted pod {target}).",
       'kube_resourcequota{{namespace="{ns}",type="used"}} / kube_resourcequota{{type="hard"}} > 0.9',
       (("resource", ("requests.cpu", "requests.memory", "pods")),)),
    _R("ConfigReloaderSidecarErrors", W, K8S, "n", (1, 1), "config-reloader sidecar has not had a successful reload",
       "Errors encountered while the config-reloader sidecar of {target} tried to reload {n} times in 10 minutes.",
       'max_over_time(reloader_last_reload_successful{{namespace="{ns}"}}[5m]) == 0'),
    _R("NodeSystemdServiceFailed", W, HOSTS, "n", (1, 1), "Systemd service {name} has entered failed state",
       "Systemd service {name} has entered failed state at {target} ({n} restarts).",
       'node_systemd_unit_state{{job="{svc}",state="failed"}} == 1',
       (("name", ("logrotate.service", "fstrim.service", "sssd.service", "chronyd.service")),)),
    _R("NodeMemoryMajorPagesFaults", W, HOSTS, "n", (500, 5000), "Memory major page faults on {node}",
       "Memory major pages are occurring at a very high rate on {target}: {v:.0f} per second.",
       'rate(node_vmstat_pgmajfault{{job="{svc}"}}[1m]) > 500'),
    _R("KubeletTooManyPods", W, HOSTS, "n", (95, 100), "Kubelet {node} is running at capacity",
       "Kubelet {node} ({target}) is running at {v:.1f}% of its Pod capacity.",
       'count by (node) (kube_pod_info{{node!=""}}) / kube_node_status_capacity{{resource="pods"}} > 0.95'),
)
# fmt: on
