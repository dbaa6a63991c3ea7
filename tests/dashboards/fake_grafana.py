"""A stand-in for the two Grafana HTTP API endpoints ``dashboards.push`` uses.

It answers ``GET/POST /api/folders`` and ``POST /api/dashboards/db`` as Grafana 11 documents them
and records every request (method, path, headers, JSON body). A fake is used only because no
Grafana server can be installed where these tests run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGrafana:
    """State of the fake: its folders, its token, what it was sent; ``url`` once started."""

    token: str = "glsa_test_token"
    folders: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    dashboard_status: int = 200
    folder_post_status: int = 200
    url: str = ""

    def sent(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.split("?")[0] == path]


def _handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the server log
            return

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Recorded | None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            record = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            state.requests.append(record)
            if record.headers.get("authorization") != f"Bearer {state.token}":
                self._reply(401, {"message": "invalid API key"})
                return None
            return record

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self._record() is None:
                return
            if self.path.split("?")[0] == "/api/folders":
                self._reply(200, state.folders)
            else:
                self._reply(404, {"message": "not found"})

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            record = self._record()
            if record is None:
                return
            if record.path == "/api/folders":
                if state.folder_post_status != 200:
                    self._reply(state.folder_post_status, {"message": "a folder with that name already exists"})
                    return
                folder = {"id": len(state.folders) + 1, "uid": record.body["uid"], "title": record.body["title"]}
                state.folders.append(folder)
                self._reply(200, {**folder, "url": f"/dashboards/f/{folder['uid']}/"})
            elif record.path == "/api/dashboards/db":
                if state.dashboard_status != 200:
                    self._reply(state.dashboard_status, {"message": "dashboard rejected", "status": "error"})
                    return
                uid = record.body["dashboard"]["uid"]
                self._reply(200, {"id": 1, "uid": uid, "url": f"/d/{uid}/x", "status": "success", "version": 1})
            else:
                self._reply(404, {"message": "not found"})

    return Handler


@contextmanager
def running_fake_grafana() -> Iterator[FakeGrafana]:
    """A started fake on a free local port, shut down on exit."""
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
