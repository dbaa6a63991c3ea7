"""Manual threshold overrides and their audit log.

Every change is an event (who, when, service, old, new, reason) appended to the ``overrides`` record
store (local directory or S3, the same store as feedback), so the log is the audit trail and the
overrides in force are the fold of it: the latest event per service, where ``new=None`` reverts to
the optimised threshold. Scorer replicas re-read it every few seconds, so a change takes effect
without a redeploy and survives restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from alertsieve.settings import get_settings
from alertsieve.store import RecordStore, open_store


class OverrideChange(BaseModel):
    service: str = Field(min_length=1, max_length=200)
    old: float | None = Field(default=None, ge=0.0, le=1.0)
    new: float | None = Field(default=None, ge=0.0, le=1.0, description="None reverts to the optimised threshold")
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class OverrideLog:
    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def changes(self) -> list[OverrideChange]:
        return [OverrideChange.model_validate_json(line) for line in self.store.lines("overrides")]

    def current(self) -> dict[str, float]:
        state: dict[str, float] = {}
        for change in sorted(self.changes(), key=lambda c: c.at):
            if change.new is None:
                state.pop(change.service, None)
            else:
                state[change.service] = change.new
        return state

    def set(self, service: str, new: float | None, by: str, reason: str) -> OverrideChange:
        change = OverrideChange(service=service, old=self.current().get(service), new=new, by=by, reason=reason)
        self.store.append("overrides", [change])
        return change


def overrides_reader(location: str | None = None) -> Callable[[], dict[str, float]]:
    """A function the scorer calls to read the overrides in force (from the configured state store)."""

    def read() -> dict[str, float]:
        return OverrideLog(open_store(location or get_settings().state_location)).current()

    return read
