"""Durable append-only records: the decision log and feedback, in a local directory or on S3.

``open_store("/path")`` appends JSON lines to one file per kind and day, flushed and fsynced before
``append`` returns; ``open_store("s3://bucket/prefix")`` writes each appended batch as its own object
(S3 has no append), honouring AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL for S3-compatible endpoints.
Either way a record is durable once ``append`` returns, which is when the API acknowledges it.

Besides records, a store holds named blobs: one object each, replaced whole (``put_blob``: a temporary
file renamed over the old one, or one S3 put), read back whole or not at all (``get_blob``; None when
there is none). The Ingress keeps its stream snapshot there.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

Kind = Literal["decisions", "feedback", "overrides", "pipeline", "rollout"]
BLOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class RecordStore(Protocol):
    location: str

    def append(self, kind: Kind, records: Sequence[BaseModel]) -> None: ...

    def lines(self, kind: Kind, since: datetime | None = None) -> Iterator[str]:
        """Every record of ``kind`` in append order; with ``since``, only those appended on its (UTC) day or
        later (whole days: a caller filters within the first one)."""
        ...

    def put_blob(self, name: str, data: bytes) -> None: ...

    def get_blob(self, name: str) -> bytes | None: ...


def _blob_name(name: str) -> str:
    if not BLOB_NAME.fullmatch(name):
        raise ValueError(f"blob name {name!r}: letters, digits, '.', '_' and '-' only")
    return name


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _day(since: datetime | None) -> str:
    """The day stamp records of ``since`` are filed under ("" for no bound: every day is later)."""
    if since is None:
        return ""
    try:
        return (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC).date().isoformat()
    except OverflowError:  # year 1 with an offset east of UTC falls before datetime.min: every day is later
        return ""


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def append(self, kind: Kind, records: Sequence[BaseModel]) -> None:
        if not records:
            return
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        payload = "".join(r.model_dump_json() + "\n" for r in records)
        with (folder / f"{_stamp()}.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())

    def lines(self, kind: Kind, since: datetime | None = None) -> Iterator[str]:
        first = _day(since)
        for path in sorted((self.root / kind).glob("*.jsonl")):
            if path.name < first:  # one file per day, named by it: earlier days are not opened
                continue
            with path.open(encoding="utf-8") as handle:
                yield from (line for line in handle if line.strip())

    def put_blob(self, name: str, data: bytes) -> None:
        """Replace the blob atomically: readers see the old bytes or the new, never a part."""
        folder = self.root / "blobs"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / _blob_name(name)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get_blob(self, name: str) -> bytes | None:
        try:
            return (self.root / "blobs" / _blob_name(name)).read_bytes()
        except FileNotFoundError:
            return None


def s3_client() -> Any:
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL")
    return boto3.client("s3", endpoint_url=endpoint)


class S3Store:
    def __init__(self, uri: str) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.location = uri
        self.client = s3_client()

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def append(self, kind: Kind, records: Sequence[BaseModel]) -> None:
        if not records:
            return
        body = "".join(r.model_dump_json() + "\n" for r in records).encode()
        name = f"{datetime.now(UTC).strftime('%H%M%S%f')}-{uuid.uuid4().hex[:8]}.jsonl"
        self.client.put_object(Bucket=self.bucket, Key=self._key(kind, _stamp(), name), Body=body)

    def lines(self, kind: Kind, since: datetime | None = None) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        # keys are kind/DAY/time-id.jsonl: listing starts at the first day wanted
        start = self._key(kind, _day(since))
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self._key(kind) + "/", StartAfter=start)
        keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        for key in sorted(keys):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
            yield from (line for line in body.splitlines() if line.strip())

    def put_blob(self, name: str, data: bytes) -> None:
        """One put: S3 replaces an object whole."""
        self.client.put_object(Bucket=self.bucket, Key=self._key("blobs", _blob_name(name)), Body=data)

    def get_blob(self, name: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key("blobs", _blob_name(name)))
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(response["Body"].read())


def open_store(location: str) -> RecordStore:
    if location.startswith("s3://"):
        return S3Store(location)
    return LocalStore(Path(location).expanduser())


# ---- the latest record of a kind ------------------------------------------------------------------
R = TypeVar("R", bound=BaseModel)


def latest(
    store: RecordStore,
    kind: Kind,
    model: type[R],
    at: Callable[[R], datetime],
    where: Callable[[R], bool] | None = None,
) -> R | None:
    """The record of ``kind`` latest by ``at`` (of equal ones, the last appended) among those ``where``
    keeps (all by default); None when there is none. Lines that do not validate as ``model`` are skipped."""
    found: R | None = None
    for line in store.lines(kind):
        try:
            record = model.model_validate_json(line)
        except ValidationError:
            continue
        if (where is None or where(record)) and (found is None or at(record) >= at(found)):
            found = record
    return found
