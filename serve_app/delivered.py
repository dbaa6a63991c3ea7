"""What was delivered to whom, so that Alertmanager's resend of a group after a partial failure sends only
what failed (``serve_app/delivery.py``).

Alertmanager resends the whole notification after a 5xx. Each occurrence (fingerprint, startsAt, status)
a receiver took (accepted, refused for good, or handed to the retry outbox) is remembered for ``ttl_s``
(config ``resend_memory_s``, well under Alertmanager's repeat_interval, whose reminders are then sent
again) and skipped by a resend; at most ``capacity`` entries, the oldest forgotten first. In memory: a
restart forgets it, and then a resend is delivered again (at least once, never lost).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

Key = tuple[str, str, str, str]  # receiver, fingerprint, startsAt, status


class DeliveredMemory:
    def __init__(self, ttl_s: float, clock: Callable[[], float], capacity: int = 200_000) -> None:
        self.ttl_s, self.clock, self.capacity = ttl_s, clock, capacity
        self._at: OrderedDict[Key, float] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        at = self._at.get(key)  # type: ignore[call-overload]
        return at is not None and self.clock() - at < self.ttl_s

    def __len__(self) -> int:
        return len(self._at)

    def mark(self, keys: Iterable[Key]) -> None:
        now = self.clock()
        for key in keys:
            self._at[key] = now
            self._at.move_to_end(key)
        while self._at and (len(self._at) > self.capacity or now - next(iter(self._at.values())) >= self.ttl_s):
            self._at.popitem(last=False)
