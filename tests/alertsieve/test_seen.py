from __future__ import annotations

import pytest

from alertsieve.seen import SeenSet


def test_forgets_the_least_recently_added_beyond_its_capacity():
    seen = SeenSet(["a", "b"], capacity=2)
    seen.add("a")  # a is the most recent now
    seen.add("c")
    assert list(seen) == ["a", "c"] and "b" not in seen and len(seen) == 2


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        SeenSet(capacity=0)
