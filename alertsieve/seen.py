"""``SeenSet``: what the stream context remembers having seen (fingerprints, alert names on hosts ...), bounded.

A live stream brings new fingerprints forever (pods, hosts, clusters come and go), so a plain set of them
grows without end. A ``SeenSet`` forgets the member added or seen least recently once it holds more than
``capacity``: an alert not seen for that long counts as new again, which is what novelty means anyway.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator

DEFAULT_CAPACITY = 500_000


class SeenSet:
    def __init__(self, items: Iterable[str] = (), capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("a SeenSet needs a capacity of at least 1")
        self.capacity = capacity
        self._items: OrderedDict[str, None] = OrderedDict()
        for item in items:
            self.add(item)

    def add(self, item: str) -> None:
        """Remember ``item`` as the most recent; forget the least recent beyond the capacity."""
        self._items[item] = None
        self._items.move_to_end(item)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        """Least recent first: a snapshot replayed through ``add`` keeps the order."""
        return iter(self._items)

    def copy(self) -> SeenSet:
        """An independent copy, same order and capacity (one C-level dict copy)."""
        twin = SeenSet(capacity=self.capacity)
        twin._items = self._items.copy()
        return twin
