"""Reading and writing JSONL files of alerts and decisions, and pairing them line by line.

Reading validates every line against a pydantic model and fails with the line number and the field
(``read_jsonl_skipping`` instead skips such lines and returns their errors); writing goes to a temporary
file renamed into place, so a failed run never leaves a half-written file. ``paired`` matches alerts with
the decisions made for them, line by line, checking each pair's fingerprint.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)


class RecordError(ValueError):
    """A malformed input line: names the file, the line and the field."""

    def __init__(self, path: str, line: int, field: str, message: str) -> None:
        self.path, self.line, self.field = path, line, field
        super().__init__(f"{path}:{line}: field '{field}': {message}")


def _field_of(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(record)"
    return field, first["msg"]


def _record(path: Path, number: int, line: bytes, model: type[T]) -> T | None:
    """The validated record of one line; None for a blank one; a RecordError for anything else."""
    try:
        raw = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(str(path), number, "(encoding)", f"not UTF-8 text (byte {exc.start + 1})") from None
    if not raw.strip():
        return None
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RecordError(str(path), number, "(json)", exc.msg) from None
    if not isinstance(payload, dict):
        raise RecordError(str(path), number, "(record)", "expected a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        field, message = _field_of(exc)
        raise RecordError(str(path), number, field, message) from None


def iter_jsonl(path: Path, model: type[T]) -> Iterator[T]:
    """Yield one validated record per non-empty line (binary or invalid UTF-8 is a RecordError too)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            record = _record(path, number, line, model)
            if record is not None:
                yield record


def read_jsonl(path: Path, model: type[T]) -> list[T]:
    return list(iter_jsonl(path, model))


def read_jsonl_skipping(path: Path, model: type[T]) -> tuple[list[T], list[RecordError]]:
    """Every line that validates, and the error of every one that does not (blank lines are neither)."""
    records: list[T] = []
    errors: list[RecordError] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = _record(path, number, line, model)
            except RecordError as exc:
                errors.append(exc)
                continue
            if record is not None:
                records.append(record)
    return records, errors


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """A text handle whose content replaces ``path`` only if the block finishes without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: Path, records: Iterable[BaseModel]) -> int:
    count = 0
    with atomic_writer(path) as handle:
        for record in records:
            handle.write(record.model_dump_json(exclude_none=True) + "\n")
            count += 1
    return count


class Fingerprinted(Protocol):
    @property
    def fingerprint(self) -> str: ...


A = TypeVar("A", bound=Fingerprinted)
D = TypeVar("D", bound=Fingerprinted)


def paired(alerts: Sequence[A], decisions: Sequence[D], source: str = "decisions") -> list[tuple[A, D]]:
    """Alerts and the decisions made for them, matched line by line: as many of each, and on every line the
    same fingerprint. Else a ValueError: the counts, or a ``RecordError`` naming ``source`` and the line."""
    if len(alerts) != len(decisions):
        raise ValueError(f"{len(alerts)} alerts but {len(decisions)} decisions: they must match line by line")
    pairs = list(zip(alerts, decisions, strict=True))
    for line, (alert, decision) in enumerate(pairs, start=1):
        if alert.fingerprint != decision.fingerprint:
            raise RecordError(source, line, "fingerprint", f"does not match the alert on line {line} of the alerts")
    return pairs
