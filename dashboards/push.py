"""Upload the generated dashboards to a Grafana through its HTTP API.

Two endpoints are enough: ``/api/folders`` (list, then create the folder when missing) and
``POST /api/dashboards/db`` (create or overwrite a dashboard in that folder). They are called with
httpx, which alertsieve already depends on. We do not use the ``grafana-client`` package: it pulls
in niquests and urllib3-future, and urllib3-future installs itself in place of urllib3 inside the
virtual environment, changing the HTTP stack under boto3, requests and MLflow for two API calls.

Authentication is a Grafana service-account token (or API key) sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

DEFAULT_FOLDER = "alertsieve"
_UID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


class GrafanaError(RuntimeError):
    """Grafana refused a request (the status and Grafana's message are in the text)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Grafana answered {status}: {message}")
        self.status = status


def folder_uid(title: str) -> str:
    """A stable folder uid for a folder title (Grafana allows 40 characters of [A-Za-z0-9_-])."""
    uid = _UID_CHARS.sub("-", title.strip()).strip("-").lower()[:40]
    if not uid:
        raise ValueError(f"folder title gives an empty uid: {title!r}")
    return uid


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return str(body)[:200]


def _check(response: httpx.Response, action: str) -> None:
    if response.status_code == 401:
        raise GrafanaError(401, f"{action}: the token was refused ({_message(response)})")
    if response.status_code == 403:
        raise GrafanaError(403, f"{action}: the token lacks permission ({_message(response)})")
    if response.status_code >= 400:
        raise GrafanaError(response.status_code, f"{action}: {_message(response)}")


def ensure_folder(client: httpx.Client, title: str) -> str:
    """The uid of the folder titled ``title``, created when no folder has that uid or title."""
    uid = folder_uid(title)
    response = client.get("/api/folders", params={"limit": 1000})
    _check(response, "listing folders")
    for folder in response.json():
        if folder.get("uid") == uid or folder.get("title") == title:
            return str(folder["uid"])
    response = client.post("/api/folders", json={"uid": uid, "title": title})
    if response.status_code in (409, 412):  # created meanwhile, or the title is taken
        return uid
    _check(response, f"creating folder {title!r}")
    return str(response.json().get("uid", uid))


def load_dashboards(dashboards_dir: Path) -> list[dict[str, Any]]:
    """The dashboard JSON files of a directory, in file-name order."""
    paths = sorted(dashboards_dir.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no dashboard JSON in {dashboards_dir}")
    return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def push_dashboards(
    url: str,
    token: str,
    dashboards_dir: Path,
    folder: str = DEFAULT_FOLDER,
    *,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> list[str]:
    """Create or overwrite every dashboard of ``dashboards_dir`` in ``folder``; returns their uids."""
    if not token:
        raise ValueError("a Grafana token is required")
    dashboards = load_dashboards(dashboards_dir)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    uids: list[str] = []
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport) as client:
        target = ensure_folder(client, folder)
        for dashboard in dashboards:
            body = {
                "dashboard": {**dashboard, "id": None},
                "folderUid": target,
                "overwrite": True,
                "message": "alertsieve dashboards push",
            }
            response = client.post("/api/dashboards/db", json=body)
            _check(response, f"saving dashboard {dashboard.get('uid')!r}")
            uids.append(str(response.json().get("uid", dashboard.get("uid"))))
    return uids
