"""Command lines of the retraining loop's tests: the window options every window command takes."""

from __future__ import annotations

from pathlib import Path


def window_args(history: Path, weeks: float = 2, holdout_days: float = 2) -> list[str]:
    """``--history H --weeks W --holdout-days D``: the window of retrain, schedule and compare."""
    return ["--history", str(history), "--weeks", f"{weeks:g}", "--holdout-days", f"{holdout_days:g}"]
