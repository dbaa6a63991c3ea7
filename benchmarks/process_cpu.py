"""CPU time and resident memory of the processes that serve a run, per role, read from /proc (Linux).

A role is a Serve replica's deployment (``ray::ServeReplica:<app>:<Deployment>``), the HTTP proxy, the rest
of Ray (raylet, GCS, dashboard agents, idle workers) or the load generator itself. ``CpuMeter.sample``
reads every process's user+system CPU seconds; the difference of two samples over the wall time between
them is the cores each role used in that span, which shows where a saturated machine spends its cores.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PROXY, RAY, GENERATOR = "proxy", "ray (other)", "load generator"


def role_of(cmdline: str, app: str) -> str | None:
    """The role a process plays, from its command line (Ray sets worker titles to ``ray::<actor>``)."""
    replica = f"ServeReplica:{app}:"
    if replica in cmdline:
        return cmdline.split(replica, 1)[1].split()[0].split(".")[0]  # the title names the method it runs
    if "ProxyActor" in cmdline:
        return PROXY
    if "ray" in cmdline and (
        "ray::" in cmdline or "raylet" in cmdline or "gcs_server" in cmdline or "/ray/" in cmdline
    ):
        return RAY
    return None


@dataclass(frozen=True)
class Sample:
    at: float
    cpu_s: dict[str, float]  # role -> CPU seconds of its live processes
    rss_mb: dict[str, float]  # role -> resident MB of its live processes


class CpuMeter:
    """Samples this machine's processes by role: the app's replicas, the proxy, the rest of Ray, this process."""

    def __init__(self, app: str) -> None:
        self.app = app

    def sample(self) -> Sample:
        cpu: dict[str, float] = defaultdict(float)
        rss: dict[str, float] = defaultdict(float)
        me = os.getpid()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            role = GENERATOR if int(entry.name) == me else role_of(cmdline, self.app)
            if role is None:
                continue
            cpu[role] += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (stat fields 14, 15)
            rss[role] += int(fields[21]) * PAGE / 2**20  # rss pages (field 24)
        return Sample(time.perf_counter(), dict(cpu), dict(rss))


def cores(before: Sample, after: Sample) -> dict[str, float]:
    """Cores each role used between two samples (CPU seconds over wall seconds)."""
    span = max(after.at - before.at, 1e-9)
    return {role: max(0.0, after.cpu_s.get(role, 0.0) - before.cpu_s.get(role, 0.0)) / span for role in after.cpu_s}
