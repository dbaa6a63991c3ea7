"""Canonical alert text: the alert's name, stable labels and annotations with volatile tokens masked.

Two firings of the same rule on different pods, at different values, give the same canonical text, so
the embedding cache and the nearest-neighbour index see one text per rule and context, not per firing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alertsieve.schema import Alert

# Labels that name one instance of something; they never enter the text.
DEFAULT_INSTANCE_LABELS: tuple[str, ...] = (
    "instance",
    "pod",
    "pod_name",
    "container",
    "container_id",
    "node",
    "host",
    "hostname",
    "ip",
    "uid",
    "id",
    "endpoint",
    "replica",
    "prometheus_replica",
    "__name__",
)
DEFAULT_TEXT_ANNOTATIONS: tuple[str, ...] = ("summary", "message", "title", "description")
MAX_ANNOTATION_CHARS = 160
MAX_FIELD_CHARS = 512  # of one label value or annotation, before masking

_K8S = "[bcdfghjklmnpqrstvwxz2456789]"
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"https?://\S+"), "<url>"),
    (
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        "<uuid>",
    ),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>"),
    # Pod suffixes use Kubernetes' random alphabet (no vowels, no 0/1/3), so words like "kube-proxy" stay.
    # Only the word right before the suffix is matched (the rest of a hyphenated name is kept as it is):
    # no nested quantifier, so masking stays linear in the text's length.
    (re.compile(rf"\b([a-z][a-z0-9]*)-[a-z0-9]{{6,10}}-{_K8S}{{5}}\b"), r"\1-<pod>"),
    (re.compile(rf"\b([a-z][a-z0-9]*)-{_K8S}{{5}}\b(?=\W|$)"), r"\1-<pod>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\b(?=\w*\d)(?=\w*[A-Za-z])[A-Za-z0-9_]{6,}\b"), "<id>"),
    (re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?"), "<num>"),
)
_SPACES = re.compile(r"\s+")


def mask_volatile(text: str) -> str:
    """Replace numbers, ids, hashes, IPs, URLs and pod suffixes with placeholders.

    Only the first ``MAX_FIELD_CHARS`` characters are masked (what follows says nothing more about which
    rule fired), so the work per field is bounded whatever a sender puts in a label."""
    text = text[:MAX_FIELD_CHARS]
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()


def canonical_text(
    alert: Alert,
    instance_labels: Sequence[str] = DEFAULT_INSTANCE_LABELS,
    text_annotations: Sequence[str] = DEFAULT_TEXT_ANNOTATIONS,
) -> str:
    """One line that says what the alert is, independent of which instance fired it and when."""
    skip = set(instance_labels) | {"alertname"}
    parts = [f"alert: {alert.alertname or 'unnamed'}"]
    parts += [f"{k}: {mask_volatile(alert.labels[k])}" for k in sorted(alert.labels) if k not in skip]
    for name in text_annotations:  # the first present: a summary says what the rule means
        value = alert.annotations.get(name)
        if value:
            parts.append(f"{name}: {mask_volatile(value)[:MAX_ANNOTATION_CHARS]}")
            break
    return " | ".join(parts)
