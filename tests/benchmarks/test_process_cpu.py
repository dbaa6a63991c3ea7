"""Process roles and CPU accounting of the load benchmark, on this test process and a child it starts."""

from __future__ import annotations

import time

from process_cpu import GENERATOR, PROXY, RAY, CpuMeter, Sample, cores, role_of


def test_roles_come_from_ray_process_titles():
    assert role_of("ray::ServeReplica:alertsieve:Ingress", "alertsieve") == "Ingress"
    assert role_of("ray::ServeReplica:alertsieve:Scorer extra args", "alertsieve") == "Scorer"
    assert role_of("ray::ServeReplica:alertsieve:Ingress.handle_request_with_rejection", "alertsieve") == "Ingress"
    assert role_of("ray::ServeReplica:other:Scorer", "alertsieve") == RAY  # another app's replica: the rest of Ray
    assert role_of("ray::ProxyActor", "alertsieve") == PROXY
    assert role_of("/venv/lib/python3.11/site-packages/ray/core/src/ray/raylet/raylet --x", "alertsieve") == RAY
    assert role_of("/usr/bin/bash -c make test", "alertsieve") is None


def test_the_meter_counts_this_process_as_the_load_generator():
    meter = CpuMeter("alertsieve")
    before = meter.sample()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of CPU in this process
        pass
    after = meter.sample()
    assert after.cpu_s[GENERATOR] - before.cpu_s[GENERATOR] >= 0.25  # CPU seconds: however busy the machine
    assert cores(before, after)[GENERATOR] > 0
    assert after.rss_mb[GENERATOR] > 10


def test_cores_are_cpu_seconds_over_wall_seconds_and_never_negative():
    before = Sample(at=10.0, cpu_s={"Ingress": 5.0, "gone": 3.0}, rss_mb={})
    after = Sample(at=12.0, cpu_s={"Ingress": 6.0, "new": 1.0}, rss_mb={})
    assert cores(before, after) == {"Ingress": 0.5, "new": 0.5}
