"""The one place the train_app connects to Ray: ``ensure_ray``.

Jobs (retraining, reading through Ray Data, fitting on Ray Train) join the Ray cluster of this process
(RAY_ADDRESS, a Ray Job) or start a local one; commands that must act on a running cluster
(``address="auto"``: a deploy with ``serve.run``) connect to it and never start a new one.
"""

from __future__ import annotations

import ray


def ensure_ray(address: str | None = None) -> None:
    """Connect to Ray once per process: to ``address`` when given, else the job's cluster or a new local one."""
    if ray.is_initialized():
        return
    if address is not None:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
