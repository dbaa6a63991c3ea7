"""What an alert *is*, independent of the environment it fires in: the key of novelty.

Real Prometheus setups carry ``cluster``, ``env``, ``region``, ``datacenter`` and ``tenant`` labels, and new
clusters appear. The same rule firing in a new cluster is not a new kind of alert, so an alert's identity
is its canonical text without its environment labels (which stay in the canonical text the model sees:
they are features, not identity). Environment labels are the configured ones plus those found in the
data: a label whose values split the stream into parallel copies of the same alert types (most alert
names under one value also fire under another).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from alertsieve.canonical import canonical_text, mask_volatile
from alertsieve.schema import Alert
from alertsieve.severity import SEVERITY_LABELS

DEFAULT_ENVIRONMENT_LABELS: tuple[str, ...] = (
    "cluster",
    "env",
    "environment",
    "region",
    "datacenter",
    "dc",
    "tenant",
    "zone",
    "availability_zone",
    "stage",
    "site",
    "location",
)
# host names (a.b.c and longer) name where an alert fired, which new environments change
_HOSTNAME = re.compile(r"[A-Za-z0-9_<>-]+(?:\.[A-Za-z0-9_<>-]+){2,}")
MIN_VALUE_ALERTS = 5
MIN_SHARED = 0.6
MAX_VALUES = 500


def detect_environment_labels(
    alerts: Iterable[Alert], skip: Iterable[str], min_shared: float = MIN_SHARED
) -> tuple[str, ...]:
    """Labels (outside ``skip``) with 2 to MAX_VALUES values of at least MIN_VALUE_ALERTS alerts each, whose
    values share alert names: on average at least ``min_shared`` of the names under one value also fire
    under another value."""
    excluded = set(skip) | set(SEVERITY_LABELS) | {"alertname"}
    names: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for alert in alerts:
        for key, value in alert.labels.items():
            if key in excluded:
                continue
            names[key][value].add(alert.alertname)
            counts[key][value] += 1
    found = []
    for key, by_value in names.items():
        values = [v for v in by_value if counts[key][v] >= MIN_VALUE_ALERTS]
        if not 2 <= len(values) <= MAX_VALUES:
            continue
        shared = []
        for value in values:
            others: set[str] = set()
            for other in values:
                if other != value:
                    others |= by_value[other]
            shared.append(len(by_value[value] & others) / len(by_value[value]))
        if sum(shared) / len(shared) >= min_shared:
            found.append(key)
    return tuple(sorted(found))


def identity_of(
    alert: Alert, instance_labels: Sequence[str], environment_labels: Sequence[str], text_annotations: Sequence[str]
) -> str:
    """The canonical text without instance and environment labels, environment values and host names in
    its text masked."""
    text = _HOSTNAME.sub("<host>", canonical_text(alert, (*instance_labels, *environment_labels), text_annotations))
    for key in environment_labels:
        value = alert.labels.get(key, "")
        if len(value) >= 3:
            for form in {value, mask_volatile(value)}:
                text = text.replace(form, "<env>")
    return text
