"""Reading labelled history, the decision log and feedback through Ray Data, from a directory or S3.

Every source is JSON lines: labelled history is a ``.jsonl`` file or a folder of them (``LabelledAlert``
per line); the decision log (``LoggedDecision``) and feedback (``Feedback``) live in the record store
(``alertsieve.store``: ``<location>/decisions/...``, ``<location>/feedback/...``, one file per day locally,
one object per batch on S3). ``s3://bucket/prefix`` locations are read with pyarrow's S3 filesystem,
honouring AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL for S3-compatible endpoints (MinIO, moto).

Ray Data reads the lines in parallel and filters them where they are read: lines older than the window,
and decision-log lines that no feedback refers to (the log holds every scored alert; only the labelled
ones matter), never reach the driver. The driver validates what is left with the pydantic models;
lines that do not parse are counted and skipped, so one bad line cannot stop the weekly job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import ray
from pyarrow import fs as pafs
from pydantic import BaseModel, ValidationError

from alertsieve.schema import Feedback, LabelledAlert, LoggedDecision
from train_app.ray_runtime import ensure_ray
from train_app.window import TrainingWindow, WindowSpec, build_window

T = TypeVar("T", bound=BaseModel)
Source = Literal["history", "decisions", "feedback"]
EXTENSIONS = ["jsonl", "ndjson", "json"]


def s3_endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None


def s3_filesystem() -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for the configured endpoint. Keys from the environment are passed
    explicitly, so the Ray workers that read get them too; without them the AWS default chain applies
    on each worker (instance roles, IRSA)."""
    options: dict[str, Any] = {}
    if endpoint := s3_endpoint():
        options["endpoint_override"] = endpoint
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        options.update(
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            session_token=os.environ.get("AWS_SESSION_TOKEN"),
        )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)


def source_path(location: str, *parts: str) -> tuple[str, pafs.FileSystem | None]:
    """A path Ray Data can read (``bucket/key`` with a filesystem for S3) for a location and subfolder."""
    if location.startswith("s3://"):
        path = "/".join(p.strip("/") for p in (location.removeprefix("s3://"), *parts) if p.strip("/"))
        return path, s3_filesystem()
    return str(Path(location).expanduser().joinpath(*parts)), None


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


class LineFilter:
    """Runs on Ray Data workers: keeps the lines of a batch inside the window (and, for the decision log,
    those whose occurrence has feedback); lines that are not JSON objects are kept and flagged bad."""

    def __init__(self, source: Source, since: float | None, keys: Collection[tuple[str, float]] | None) -> None:
        self.source, self.since = source, since
        self.keys = set(keys) if keys is not None else None

    def _keep(self, line: str) -> tuple[bool, bool]:
        try:
            payload = json.loads(line)
        except json.JSONDecodeError:
            return True, True
        if not isinstance(payload, dict):
            return True, True
        occurrence = payload.get("alert") if self.source == "decisions" else payload
        if not isinstance(occurrence, dict):
            return True, True
        started = _timestamp(occurrence.get("startsAt"))
        if started is None:
            return True, True
        if self.since is not None and started < self.since:
            return False, False
        if self.keys is not None and (str(occurrence.get("fingerprint", "")), started) not in self.keys:
            return False, False
        return True, False

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        kept, bad = [], []
        for line in batch["text"]:
            keep, flagged = self._keep(str(line))
            if keep:
                kept.append(str(line))
                bad.append(flagged)
        return {"text": np.array(kept, dtype=object), "bad": np.array(bad, dtype=bool)}


@dataclass
class ReadResult:
    lines: list[str]
    invalid: int


def read_lines(
    location: str,
    *parts: str,
    source: Source,
    since: datetime | None = None,
    keys: Collection[tuple[str, float]] | None = None,
) -> ReadResult:
    """The JSON lines under a location (a file or a folder, read recursively), filtered on Ray Data."""
    path, filesystem = source_path(location, *parts)
    if filesystem is None and not Path(path).exists():
        return ReadResult([], 0)
    ensure_ray()
    try:
        dataset = ray.data.read_text(path, filesystem=filesystem, file_extensions=EXTENSIONS, drop_empty_lines=True)
        line_filter = LineFilter(source, since.timestamp() if since else None, keys)
        rows = dataset.map_batches(line_filter, batch_format="numpy").take_all()
    except FileNotFoundError:
        return ReadResult([], 0)
    return ReadResult([r["text"] for r in rows if not r["bad"]], sum(1 for r in rows if r["bad"]))


def parse(lines: list[str], model: type[T]) -> tuple[list[T], int]:
    """Validated records, and how many lines did not validate."""
    out: list[T] = []
    invalid = 0
    for line in lines:
        try:
            out.append(model.model_validate_json(line))
        except ValidationError:
            invalid += 1
    return out, invalid


class SourceCounts(BaseModel):
    history: int = 0
    decisions: int = 0
    feedback: int = 0
    invalid_lines: int = 0


def read_history(location: str, since: datetime | None = None) -> tuple[list[LabelledAlert], int]:
    result = read_lines(location, source="history", since=since)
    records, invalid = parse(result.lines, LabelledAlert)
    return records, result.invalid + invalid


def read_feedback(state_location: str, since: datetime | None = None) -> tuple[list[Feedback], int]:
    result = read_lines(state_location, "feedback", source="feedback", since=since)
    records, invalid = parse(result.lines, Feedback)
    return records, result.invalid + invalid


def read_decisions(
    state_location: str, since: datetime | None = None, keys: Collection[tuple[str, float]] | None = None
) -> tuple[list[LoggedDecision], int]:
    """Decision-log records (of occurrences in ``keys`` only, when given)."""
    result = read_lines(state_location, "decisions", source="decisions", since=since, keys=keys)
    records, invalid = parse(result.lines, LoggedDecision)
    return records, result.invalid + invalid


def feedback_keys(feedback: list[Feedback]) -> set[tuple[str, float]]:
    return {f.occurrence.key for f in feedback}


def load_window(
    history_location: str, state_location: str | None, spec: WindowSpec
) -> tuple[TrainingWindow, SourceCounts]:
    """Read every source and build the training window (see ``train_app.window``)."""
    since = spec.until - timedelta(weeks=spec.weeks) if spec.until else None
    history, bad_history = read_history(history_location, since)
    feedback: list[Feedback] = []
    decisions: list[LoggedDecision] = []
    bad_state = 0
    if state_location:
        feedback, bad_feedback = read_feedback(state_location, since)
        decisions, bad_decisions = (
            read_decisions(state_location, since, feedback_keys(feedback)) if feedback else ([], 0)
        )
        bad_state = bad_feedback + bad_decisions
    counts = SourceCounts(
        history=len(history), decisions=len(decisions), feedback=len(feedback), invalid_lines=bad_history + bad_state
    )
    return build_window(history, decisions, feedback, spec), counts
