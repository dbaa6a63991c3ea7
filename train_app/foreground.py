"""Runs a long-lived child (``serve run`` for `python -m train_app serve`) in the foreground, and stops it
so that it keeps its memory.

Python's ``subprocess.call`` SIGKILLs its child 0.25 s after a Ctrl-C: Serve never ran its graceful shutdown,
the Ingress never wrote its snapshot, and Ray's agents outlived the stop. Here the child runs in its own
session; the first SIGINT or SIGTERM (Ctrl-C, ``kill``, a pod's termination) is passed on to it as one
SIGINT, which ``serve run`` answers with ``serve.shutdown()`` (each replica's graceful ``__del__``: the
router snapshot), and it gets ``grace_s`` to exit. A second signal, or the grace running out, ends it with
SIGKILL. Whatever it left in its session is then stopped: SIGTERM, and SIGKILL for what is still there a
few seconds later: every process of its session, read from ``/proc`` (elsewhere: its process group). Its
process group alone would miss Ray's workers (the Serve controller, proxy and replicas): each runs in a
process group of its own, in the child's session.

The handlers are in place before the child starts, so the child starts with SIGINT's default action even
when this command was started with SIGINT ignored (a script's shell does that to a job it starts with ``&``): an
ignored SIGINT, inherited, would make ``serve run`` deaf to the stop, and the grace would run out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

STOP_GRACE_S = 60.0  # serve.shutdown waits up to each replica's graceful_shutdown_timeout_s (20 s by default)
LEFTOVER_GRACE_S = 5.0
PROC = Path("/proc")


def session_members(session: int) -> list[int]:
    """The live processes of ``session`` (Linux's /proc; elsewhere none are known). A zombie has stopped."""
    members = []
    for entry in PROC.glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, ...
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] != "Z" and int(fields[3]) == session:
            members.append(int(entry.name))
    return members


def _signal_session(session: int, sig: int) -> bool:
    """Send ``sig`` to every live process of ``session`` (without /proc: to its leader's process group); 0
    only asks. False when none is there."""
    if not PROC.is_dir():
        try:
            os.killpg(session, sig)
        except ProcessLookupError:
            return False
        return True
    members = session_members(session)
    for pid in members:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return bool(members)


def stop_session(session: int, grace_s: float = LEFTOVER_GRACE_S) -> None:
    """SIGTERM every process of ``session``, then SIGKILL those still there after ``grace_s``."""
    if not _signal_session(session, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _signal_session(session, 0):
            return
        time.sleep(0.1)
    _signal_session(session, signal.SIGKILL)


def run_foreground(argv: Sequence[str], env: Mapping[str, str] | None = None, grace_s: float = STOP_GRACE_S) -> int:
    """Run ``argv`` until it exits; stop it gracefully on SIGINT or SIGTERM. Returns its exit status (128 +
    the signal when a signal ended it, as a shell says)."""
    asked: list[float] = []  # when a stop was asked, once per signal; the wait loop acts on it

    def on_signal(signum: int, frame: FrameType | None) -> None:
        asked.append(time.monotonic())

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}  # before the child starts
    child: subprocess.Popen[bytes] | None = None
    try:
        child = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, start_new_session=True)
        passed_on = False
        while True:
            try:
                code = child.wait(timeout=0.2)
                return code if code >= 0 else 128 - code
            except subprocess.TimeoutExpired:
                pass
            if asked and not passed_on:
                child.send_signal(signal.SIGINT)  # serve run: KeyboardInterrupt -> serve.shutdown()
                passed_on = True
            if len(asked) > 1 or (asked and time.monotonic() - asked[0] > grace_s):
                _signal_session(child.pid, signal.SIGKILL)  # asked twice, or out of time: now
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child is not None:
            stop_session(child.pid)  # what the child left behind in its session
