"""The router's memory across restarts: the stream context and the decision memory
(``serve_app/decision_memory.py``), snapshotted to the state store as one blob and restored when the
Ingress starts (with stream shards, one blob per shard: ``serve_app/shards.py``).

A snapshot holds the stream state (``StreamSnapshot``), the context rows of the occurrences seen last
(so a resend gets the row, and so the decision, it had before), the decisions remembered last and the
occurrences ever paged (so their resolutions are still forwarded), and the suppressed webhook alerts still
firing (so delayed paging still pages them). ``Snapshotter`` writes one at most every
``snapshot_every_s`` while the router changes, and once more at graceful shutdown: the copies are taken on
the event loop (container copies, a few milliseconds), the encoding and the write run in a thread.

Which stream state a restart uses: the snapshot's, when it is of this format, was taken with the same
service and environment labels as the model's own stream snapshot, and is not older than it (stream time);
otherwise the model bundle's (``meta.stream``). The context features are the same for every model, so a
snapshot carries over a model change; only a change of labels, which changes what the features mean,
falls back. The decision memory is restored whatever the stream. A snapshot that is missing, unreadable,
corrupt or of another format is logged and ignored: the Ingress always starts.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from alertsieve.context import StreamSnapshot
from alertsieve.contracts import OccurrenceKey
from alertsieve.live_safety import LiveSafetyState
from alertsieve.schema import Alert, Decision
from alertsieve.store import RecordStore
from serve_app.telemetry import telemetry

logger = logging.getLogger("ray.serve")
SNAPSHOT_BLOB = "router-snapshot.json.gz"
SNAPSHOT_FORMAT = 1
SNAPSHOT_OCCURRENCES = 50_000  # context rows and decisions carried over: the occurrences seen last
Key = OccurrenceKey


class RouterSnapshot(BaseModel):
    """One snapshot of the router (format ``SNAPSHOT_FORMAT``; any other is ignored at restore)."""

    format: Literal[1] = 1  # SNAPSHOT_FORMAT
    taken_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    stream: StreamSnapshot
    rows: list[tuple[str, float, list[float]]] = Field(default_factory=list, description="fp, startsAt, row")
    decisions: list[Decision] = Field(default_factory=list, description="oldest first")
    paged: list[OccurrenceKey] = Field(default_factory=list, description="occurrences ever paged")
    firing_suppressed: list[tuple[Alert, Decision]] = Field(
        default_factory=list, description="suppressed, still firing: delayed paging's candidates, oldest first"
    )
    live_safety: LiveSafetyState | None = Field(default=None, description="paused services and live windows")
    resolved: list[OccurrenceKey] = Field(default_factory=list, description="occurrences whose resolution came")


def encode(snapshot: RouterSnapshot) -> bytes:
    return gzip.compress(snapshot.model_dump_json().encode(), compresslevel=3)


def decode(data: bytes) -> RouterSnapshot:
    return RouterSnapshot.model_validate_json(gzip.decompress(data))


def load_snapshot(store: RecordStore, blob: str = SNAPSHOT_BLOB) -> RouterSnapshot | None:
    """The stored snapshot, or None (none yet, or one that cannot be used: logged, never raised)."""
    try:
        data = store.get_blob(blob)
        if data is None:
            logger.info("no router snapshot in %s: starting from the model's stream", store.location)
            return None
        snapshot = decode(data)
    except Exception:  # noqa: BLE001 - a bad snapshot must never stop the Ingress from starting
        telemetry().errors.inc(tags={"stage": "snapshot-restore"})
        logger.warning("the router snapshot in %s cannot be used: starting fresh", store.location, exc_info=True)
        return None
    logger.info(
        "router snapshot of %s restored: %d decisions, %d paged occurrences",
        snapshot.taken_at.isoformat(),
        len(snapshot.decisions),
        len(snapshot.paged),
    )
    return snapshot


def _stream_time(stream: StreamSnapshot) -> float:
    return max((event[0] for event in stream.recent), default=0.0)


def choose_stream(saved: RouterSnapshot | None, model_stream: StreamSnapshot) -> StreamSnapshot:
    """The saved stream when it fits the model's labels and is not older than the model's own."""
    if saved is None:
        return model_stream
    same_labels = (saved.stream.service_labels, saved.stream.environment_labels) == (
        model_stream.service_labels,
        model_stream.environment_labels,
    )
    if same_labels and _stream_time(saved.stream) >= _stream_time(model_stream):
        return saved.stream
    logger.warning("the router snapshot's stream does not fit this model (labels or age): using the model's")
    return model_stream


class Snapshotter:
    """Writes the router's snapshot at most every ``every_s`` while the router changes, off the event loop.

    ``capture`` runs on the event loop (the router's one writer) and returns the function that builds the
    snapshot from its copies, which runs in a thread with the write."""

    def __init__(
        self,
        store: RecordStore,
        capture: Callable[[], Callable[[], RouterSnapshot]],
        every_s: float,
        blob: str = SNAPSHOT_BLOB,
    ) -> None:
        self.store, self.capture, self.every_s, self.blob = store, capture, every_s, blob
        self.written_at = time.monotonic()  # nothing is due right after a start
        self.dirty = False
        self.writing: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.writes = 0

    def changed(self) -> None:
        """Note a change: write now if one is due, else when it will be (outside an event loop: at the next)."""
        self.dirty = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.timer is not None or (self.writing is not None and not self.writing.done()):
            return  # a write is scheduled, or running (its end looks again)
        wait = self.written_at + self.every_s - time.monotonic()
        if wait > 0:
            self.timer = loop.call_later(wait, self._start)
        else:
            self._start()

    def _start(self) -> None:
        self.timer = None
        if not self.dirty or (self.writing is not None and not self.writing.done()):
            return
        self.dirty, self.written_at = False, time.monotonic()
        build = self.capture()
        self.writing = asyncio.get_running_loop().create_task(asyncio.to_thread(self._write, build))
        self.writing.add_done_callback(self._written)

    def _write(self, build: Callable[[], RouterSnapshot]) -> None:
        self.store.put_blob(self.blob, encode(build()))
        self.writes += 1

    def _written(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.dirty = True  # try again at the next change
            telemetry().errors.inc(tags={"stage": "snapshot"})
            logger.warning("the router snapshot could not be written", exc_info=task.exception())
        if self.dirty:
            self.changed()

    async def flush(self) -> None:
        """Write what changed now, after a write in flight (graceful shutdown); errors are logged."""
        while True:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.writing is None or self.writing.done():
                break
            await asyncio.wait({self.writing})  # its end may start another: look again
        if not self.dirty:
            return
        self.dirty, self.written_at = False, time.monotonic()
        try:
            await asyncio.to_thread(self._write, self.capture())
        except Exception:  # noqa: BLE001 - shutting down: log, nothing else to do
            telemetry().errors.inc(tags={"stage": "snapshot"})
            logger.warning("the router snapshot could not be written at shutdown", exc_info=True)
