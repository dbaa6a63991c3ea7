"""Shared fixtures: a small trained model bundle on a synthetic history (hashing encoder, a few epochs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch

from alertsieve.bundle import ModelBundle
from alertsieve.embedding import HashingEncoder
from alertsieve.schema import LabelledAlert
from tests.factories import synthetic_history

if TYPE_CHECKING:
    import subprocess

    from alertsieve.training import TrainReport

# The test machine has two shared cores: torch's default thread pool makes tiny batches many times slower.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_history() -> list[LabelledAlert]:
    return synthetic_history(seed=0, days=8.0)


@pytest.fixture(scope="session")
def small_training(small_history: list[LabelledAlert]) -> tuple[ModelBundle, TrainReport]:
    from alertsieve.embedding import EmbeddingCache
    from alertsieve.featurize import FeatureConfig
    from alertsieve.model import TrainParams
    from alertsieve.policy import ThresholdParams
    from alertsieve.training import train_bundle

    return train_bundle(
        small_history,
        EmbeddingCache(HashingEncoder()),
        FeatureConfig(encoder="hashing-64", label_delay_hours=1.0),
        TrainParams(epochs=8, batch_size=64, seed=0),
        # a week holds too few actionable alerts to certify a 1.5% budget (the optimiser would rightly
        # suppress nothing); the mechanics under test are the same with a looser budget
        ThresholdParams(budget=0.1, service_cap=0.2),
    )


@pytest.fixture(scope="session")
def small_bundle(small_training: tuple[ModelBundle, TrainReport]) -> ModelBundle:
    return small_training[0]


# ---- real servers, started once per test session -------------------------------------------------
TOKEN = "test-token"


def pytest_configure(config: pytest.Config) -> None:
    """Ray on 127.0.0.1 only. Ray 2.60 turns a node IP of 127.0.0.1 into the machine's reachable address,
    and its agents, GCS and workers then listen on every interface, unless single-node mode is on (the
    flag is read when ray is first imported, so it is set before any test module imports it)."""
    import os

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    # Live safety (serve_app/live_watch.py) would rightly pause services on the tests' made-up streams (replayed
    # history, novel names, "should have paged" answers) and page what other tests expect suppressed; it is off
    # unless a test's config turns it on (tests/serve_app/test_live_safety.py). Replicas inherit it.
    os.environ.setdefault("ALERTSIEVE_LIVE_SAFETY", "false")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ALERTSIEVE_HOME for one test (the CLI tests'), under ``tmp_path``; yields ``tmp_path``."""
    from alertsieve.settings import get_settings

    monkeypatch.setenv("ALERTSIEVE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def alertsieve_home(tmp_path_factory: pytest.TempPathFactory):  # -> Path
    """A private $ALERTSIEVE_HOME (MLflow sqlite, state) and write token for the whole session.

    Set before Ray starts, so that Ray workers (Serve replicas, Train workers) inherit it."""
    import os

    from alertsieve.settings import get_settings

    home = tmp_path_factory.mktemp("alertsieve-home")
    os.environ.update(
        {
            "ALERTSIEVE_HOME": str(home),
            "ALERTSIEVE_API_TOKEN": TOKEN,
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_metrics_report_interval_ms": "1000",
        }
    )
    for name in ("MLFLOW_TRACKING_URI", "ALERTSIEVE_STATE_URI", "ALERTSIEVE_ARTIFACT_ROOT"):
        os.environ.pop(name, None)
    get_settings.cache_clear()
    return home


@pytest.fixture(scope="session")
def ray_cluster(alertsieve_home):  # -> int (the Prometheus metrics export port)
    """One local Ray cluster for every Ray test (Train, Serve, Tune): starting one costs ~10 s."""
    import ray

    metrics_port = free_port()
    ray.init(
        address="local",
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        _metrics_export_port=metrics_port,
        _node_ip_address="127.0.0.1",
    )
    yield metrics_port
    from ray import serve

    _save_worker_coverage()
    serve.shutdown()
    ray.shutdown()


def _save_worker_coverage() -> None:
    """Serve replicas and Ray workers run our code in other processes; coverage follows them
    (pyproject: patch = subprocess) but saves only on a clean exit or SIGTERM, and Ray kills them
    harder than that. So end them with SIGTERM first, while coverage is running in them."""
    import os
    import signal
    import time

    if not os.environ.get("COVERAGE_PROCESS_CONFIG"):
        return
    prefixes = (b"ray::ServeReplica", b"ray::RayTrainWorker", b"ray::_RayTrainWorker", b"ray::IDLE")
    victims = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(prefixes):
                victims.append(int(entry.name))
        except OSError:
            continue
    for pid in victims:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in victims):
        time.sleep(0.2)


def _running(pid: int) -> bool:
    """Whether a process is still running: an exited one stays in /proc as a zombie (state Z) until reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session")
def champion_version(alertsieve_home, small_bundle: ModelBundle) -> str:
    """The small bundle registered in the session's MLflow as the champion."""
    from alertsieve import registry
    from alertsieve.settings import get_settings

    return registry.register(small_bundle, get_settings(), {"test": "small"}, {"rows": 1.0}, aliases=("champion",))


def request_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The body of a POST to an ``http.server`` handler, sent with a length or chunked."""
    if handler.headers.get("transfer-encoding", "").lower() == "chunked":
        data = b""
        while size := int(handler.rfile.readline().split(b";")[0], 16):
            data += handler.rfile.read(size + 2)[:-2]
        handler.rfile.readline()
        return data
    return handler.rfile.read(int(handler.headers.get("content-length", 0)))


class Receiver:
    """A stand-in for the team's real alert receiver (a paging vendor cannot run here): records
    every JSON body posted to it; ``fail`` makes it answer 500."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import ThreadingHTTPServer

        self.bodies: list[dict[str, Any]] = []
        self.fail = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                data = request_body(self)
                try:
                    body = json.loads(data or b"{}")
                except ValueError:
                    body = None
                # a body forwarded as it came (the webhook relays what it cannot parse) is kept as text
                unparsed = {"unparsed": data.decode("utf-8", "replace")}
                receiver.bodies.append(body if isinstance(body, dict) else unparsed)
                self.send_response(500 if receiver.fail else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def receiver():  # -> Receiver
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="session")
def serve_url(ray_cluster, champion_version: str, receiver: Receiver):  # -> str
    """The real Serve app (ingress, router, scorers, embedder, lookup) on 127.0.0.1 with the champion."""
    import time

    import httpx
    from ray import serve

    from serve_app.app import build_app
    from serve_app.config import AppArgs

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(AppArgs(downstream_url=receiver.url)), name="alertsieve", route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=30).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        raise RuntimeError("the Serve app did not become ready")
    return url


# ---- S3: a real moto server -----------------------------------------------------------------------
S3_BUCKET = "alertsieve-test"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def s3_env(endpoint: str) -> dict[str, str]:
    """The variables that point boto3, MLflow and pyarrow at the moto server. Set them in-process with
    monkeypatch (and ``get_settings.cache_clear()``): Ray workers started earlier do not see them."""
    return {**S3_KEYS, "MLFLOW_S3_ENDPOINT_URL": endpoint}


@pytest.fixture(scope="session")
def moto_s3():  # -> str (the endpoint URL)
    """A moto S3 server on 127.0.0.1 (`moto_server`, moto[server]) with the bucket S3_BUCKET."""
    import shutil
    import subprocess
    import sys
    import time
    from pathlib import Path

    import boto3
    import httpx

    port = free_port()
    exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=2)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=S3_KEYS["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=S3_BUCKET)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def running_server(
    command: list[str],
    ready_url: str,
    timeout_s: float = 30.0,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A real server (Prometheus, Alertmanager, `mlflow models serve`) on 127.0.0.1 for as long as the block
    runs (the block gets its process). It runs in its own process group, and the whole group is stopped at the end: a server that starts
    workers of its own (mlflow's uvicorn) leaves none behind. ``env`` replaces the environment; ``log``
    receives its output, whose end a start that fails reports."""
    import os
    import signal
    import subprocess
    import time

    import httpx

    sink = log.open("wb") if log else None
    out = sink if sink else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(ready_url).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:] if log else ""
                raise RuntimeError(f"{command[0]} did not become ready at {ready_url}\n{tail}")
            time.sleep(0.2)
        yield process
    finally:
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        if sink:
            sink.close()
