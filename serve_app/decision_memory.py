"""The router's decision memory: per alert occurrence (``Alert.occurrence.key``), its latest decision,
whether it was ever paged, and, for a suppressed webhook alert still firing, the alert itself (delayed
paging's candidate, ``serve_app/late_paging.py``).

The one place that remembers what was decided: the router writes it (scoring, fail-open and late pages,
resolutions), the late pager reads it ("should have paged", the sweep) and the snapshot carries it over a
restart (``serve_app/snapshot.py``). A resolution marks the occurrence resolved: a "should have paged" that
comes after it is not paged late as firing (the incident would stay open downstream). It holds at most ``capacity`` occurrences, the oldest (first seen)
forgotten first. An occurrence once paged stays paged: a later suppression of a resend does not undo it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import cast

from alertsieve.contracts import OccurrenceKey
from alertsieve.schema import Alert, Decision

REMEMBERED = 200_000  # occurrences remembered; the oldest are forgotten first
Waiting = tuple[Alert, Decision]  # a suppressed webhook alert still firing, and its suppression


@dataclass
class Remembered:
    """What is remembered of one occurrence."""

    decision: Decision | None = None  # its latest decision (None: only known to have been paged)
    paged: bool = False  # ever paged: its resolution is forwarded
    waiting: Waiting | None = None  # suppressed on the webhook, never paged, not resolved yet
    resolved: bool = False  # its resolution came


class DecisionMemory:
    """Bounded memory of decisions per occurrence (``REMEMBERED`` by default); not thread-safe: the router's
    event loop is its one writer."""

    def __init__(self, capacity: int = REMEMBERED) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[OccurrenceKey, Remembered] = OrderedDict()
        self._waiting: dict[OccurrenceKey, None] = {}  # keys whose entry waits for delayed paging, oldest first

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def paged(self) -> Container[OccurrenceKey]:
        """The occurrences ever paged, for ``key in memory.paged``."""
        return _Paged(self)

    # ---- writes ---------------------------------------------------------------------------------
    def remember(self, decisions: Iterable[Decision]) -> None:
        """The latest decision of each occurrence; a page marks it paged and ends its wait."""
        for d in decisions:
            if d.occurrence is None:
                continue
            entry = self._entry(d.occurrence.key)
            entry.decision = d
            if d.decision == "page":
                entry.paged = True
                self._stop_waiting(d.occurrence.key, entry)
        self._bound()

    def watch(self, alert: Alert, decision: Decision) -> None:
        """A suppressed webhook alert waits for delayed paging, unless its occurrence was ever paged."""
        key = alert.occurrence.key
        if decision.decision != "suppress" or self.was_paged(key):
            return
        entry = self._entry(key)
        entry.waiting = (alert, decision)
        self._waiting[key] = None
        self._bound()

    def stop_waiting(self, key: OccurrenceKey) -> None:
        """It no longer waits for delayed paging (resolved, ended, or paged)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._stop_waiting(key, entry)

    def mark_resolved(self, keys: Iterable[OccurrenceKey]) -> None:
        """Their resolutions came: they wait no longer, and are known to be over (an occurrence never seen
        here is not remembered for its resolution alone)."""
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None:
                entry.resolved = True
                self._stop_waiting(key, entry)

    def mark_paged(self, keys: Iterable[OccurrenceKey]) -> None:
        """Occurrences known to have been paged (a restored snapshot), their decisions unknown or kept."""
        for key in keys:
            self._entry(key).paged = True
        self._bound()

    def clear(self) -> None:
        """Forget everything (as a fresh start without a snapshot would)."""
        self._entries.clear()
        self._waiting.clear()

    # ---- reads ----------------------------------------------------------------------------------
    def decision(self, key: OccurrenceKey) -> Decision | None:
        entry = self._entries.get(key)
        return entry.decision if entry else None

    def was_paged(self, key: OccurrenceKey) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.paged

    def outcome(self, key: OccurrenceKey) -> bool | None:
        """Whether the occurrence was ever paged: True, False (decided, never paged), None (unknown here)."""
        entry = self._entries.get(key)
        if entry is None or (not entry.paged and entry.decision is None):
            return None
        return entry.paged

    def was_resolved(self, key: OccurrenceKey) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.resolved

    def waiting(self, key: OccurrenceKey) -> Waiting | None:
        entry = self._entries.get(key)
        return entry.waiting if entry else None

    def firing_suppressed(self) -> dict[OccurrenceKey, Waiting]:
        """Every occurrence waiting for delayed paging, oldest first (a copy)."""
        return {key: waiting for key in self._waiting if (waiting := self.waiting(key)) is not None}

    # ---- snapshot -------------------------------------------------------------------------------
    def latest_decisions(self, most: int) -> list[Decision]:
        """The decisions of the ``most`` occurrences seen last, oldest first."""
        recent = (e.decision for e in reversed(self._entries.values()) if e.decision is not None)
        return list(islice(recent, most))[::-1]

    def paged_keys(self) -> list[OccurrenceKey]:
        return [key for key, entry in self._entries.items() if entry.paged]

    def resolved_keys(self, most: int) -> list[OccurrenceKey]:
        """The ``most`` resolved occurrences seen last, oldest first."""
        return list(islice((k for k, e in reversed(self._entries.items()) if e.resolved), most))[::-1]

    def latest_waiting(self, most: int) -> list[Waiting]:
        """The ``most`` suppressions that started waiting last, oldest first."""
        return list(islice(reversed(self.firing_suppressed().values()), most))[::-1]

    def restore(
        self,
        decisions: Iterable[Decision],
        paged: Iterable[OccurrenceKey],
        waiting: Iterable[Waiting],
        resolved: Iterable[OccurrenceKey] = (),
    ) -> None:
        """What a snapshot holds: decisions (oldest first), the occurrences ever paged, those waiting, and
        those resolved."""
        self.remember(decisions)
        self.mark_paged(paged)
        self.mark_resolved(resolved)
        for alert, decision in waiting:  # as it was saved: it waited when the snapshot was taken
            key = alert.occurrence.key
            self._entry(key).waiting = (alert, decision)
            self._waiting[key] = None
        self._bound()

    # ---- internals ------------------------------------------------------------------------------
    def _entry(self, key: OccurrenceKey) -> Remembered:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = Remembered()
        return entry

    def _stop_waiting(self, key: OccurrenceKey, entry: Remembered) -> None:
        entry.waiting = None
        self._waiting.pop(key, None)

    def _bound(self) -> None:
        while len(self._entries) > self.capacity:
            key, _ = self._entries.popitem(last=False)
            self._waiting.pop(key, None)


class _Paged(Container[OccurrenceKey]):
    def __init__(self, memory: DecisionMemory) -> None:
        self.memory = memory

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self.memory.was_paged(cast(OccurrenceKey, key))
