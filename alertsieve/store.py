"""Durable append-only records: the decision log and feedback, in a local directory or on S3.

``open_store("/path")`` appends JSON lines to one file per kind and day, flushed and fsynced before
``append`` returns; ``open_store("s3://bucket/prefix")`` writes each appended batch as its own object
(S3 has no append), honouring AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL for S3-compatible endpoints.
Either way a record is durable once ``append`` returns, which is when the API acknowledges it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel

Kind = Literal["decisions", "feedback", "overrides", "pipeline", "rollout"]


class RecordStore(Protocol):
    location: str

    def append(self, kind: Kind, records: Sequence[BaseModel]) -> None: ...

    def lines(self, kind: Kind) -> Iterator[str]: ...


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


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

    def lines(self, kind: Kind) -> Iterator[str]:
        for path in sorted((self.root / kind).glob("*.jsonl")):
            with path.open(encoding="utf-8") as handle:
                yield from (line for line in handle if line.strip())


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

    def lines(self, kind: Kind) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys = [obj["Key"] for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(kind) + "/")
                for obj in page.get("Contents", [])]  # fmt: skip
        for key in sorted(keys):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
            yield from (line for line in body.splitlines() if line.strip())


def open_store(location: str) -> RecordStore:
    if location.startswith("s3://"):
        return S3Store(location)
    return LocalStore(Path(location).expanduser())
