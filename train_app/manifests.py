"""Serve configs and Kubernetes manifests derived from serve_config.yaml, never copied by hand.

* ``served_config``: serve_config.yaml with ``http_options`` host and port from the settings
  (ALERTSIEVE_HOST, ALERTSIEVE_PORT; 127.0.0.1:8000 by default), comments kept. `python -m train_app serve`
  runs ``serve run`` on it, `python -m train_app serve-config` prints it.
* ``with_serve_config``: infra/kustomize/base/rayservice.yaml with its ``spec.serveConfigV2`` block replaced by that
  config, bound to 0.0.0.0 (a pod is reached through its Service, not its loopback). `python -m train_app
  rayservice` rewrites the file (``--check`` only says whether it is up to date).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import yaml

from alertsieve.settings import get_settings
from train_app.deploy import set_http_options
from train_app.foreground import run_foreground

POD_HOST = "0.0.0.0"  # the Serve proxy in a pod listens on its pod IP
SERVE_CONFIG = Path("serve_config.yaml")
RAYSERVICE = Path("infra/kustomize/base/rayservice.yaml")
_BLOCK_KEY = re.compile(r"^(?P<indent> *)serveConfigV2: *\|[-+]? *$")


class ManifestError(ValueError):
    """A manifest without the block it should carry."""


def served_config(text: str, host: str, port: int) -> str:
    """The Serve config text bound to ``host``:``port``."""
    return set_http_options(text, host, port)


def with_serve_config(manifest: str, config: str) -> str:
    """``manifest`` with the literal block of ``serveConfigV2:`` replaced by ``config`` (indented under it)."""
    lines = manifest.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _BLOCK_KEY.match(line.rstrip("\n"))]
    if len(starts) != 1:
        raise ManifestError(f"expected one `serveConfigV2: |` block, found {len(starts)}")
    start = starts[0]
    key_indent = len(_BLOCK_KEY.match(lines[start].rstrip("\n")).group("indent"))  # type: ignore[union-attr]
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip(" ")) > key_indent):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # blank lines after the block stay where they are
        end -= 1
    pad = " " * (key_indent + 2)
    block = [pad + line if line.strip() else "\n" for line in config.rstrip("\n").splitlines(keepends=True)]
    block[-1] = block[-1].rstrip("\n") + "\n"
    lines[start] = " " * key_indent + "serveConfigV2: |\n"
    out = "".join(lines[: start + 1] + block + lines[end:])
    docs = [d for d in yaml.safe_load_all(out) if d and d.get("kind") == "RayService"]
    if len(docs) != 1 or docs[0]["spec"]["serveConfigV2"] != config.rstrip("\n") + "\n":
        raise ManifestError("the serveConfigV2 block did not round-trip")
    return out


def rayservice_text(manifest: Path, serve_config: Path, port: int) -> str:
    """The RayService manifest as it should be: its serveConfigV2 from ``serve_config``, bound to POD_HOST."""
    config = served_config(serve_config.read_text(encoding="utf-8"), POD_HOST, port)
    return with_serve_config(manifest.read_text(encoding="utf-8"), config)


# ---- commands -------------------------------------------------------------------------------------
Config = Annotated[Path, typer.Option("--config", help="the Serve config", exists=True, dir_okay=False)]


def serve_config(
    config: Config = SERVE_CONFIG, out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None
) -> None:
    """Print the Serve config bound to ALERTSIEVE_HOST:ALERTSIEVE_PORT (127.0.0.1:8000 by default)."""
    settings = get_settings()
    text = served_config(config.read_text(encoding="utf-8"), settings.host, settings.port)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


def serve(config: Config = SERVE_CONFIG) -> None:
    """`serve run` the Serve config bound to ALERTSIEVE_HOST:ALERTSIEVE_PORT (foreground)."""
    settings = get_settings()
    text = served_config(config.read_text(encoding="utf-8"), settings.host, settings.port)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="serve_config-") as handle:
        handle.write(text)
        handle.flush()
        serve_exe = Path(sys.executable).with_name("serve")
        argv = [str(serve_exe) if serve_exe.exists() else "serve", "run", handle.name]
        raise typer.Exit(run_foreground(argv, env=os.environ.copy()))  # SIGINT/SIGTERM: a graceful stop


def rayservice(
    manifest: Annotated[Path, typer.Option(help="the RayService manifest", exists=True, dir_okay=False)] = RAYSERVICE,
    config: Config = SERVE_CONFIG,
    check: Annotated[bool, typer.Option("--check", help="only check that the manifest is up to date")] = False,
) -> None:
    """Regenerate the RayService's serveConfigV2 from the Serve config (bound to 0.0.0.0:ALERTSIEVE_PORT)."""
    try:
        fresh = rayservice_text(manifest, config, get_settings().port)
    except ManifestError as exc:
        raise typer.BadParameter(str(exc), param_hint="--manifest") from None
    if fresh == manifest.read_text(encoding="utf-8"):
        sys.stdout.write(f"{manifest} is up to date with {config}\n")
        return
    if check:
        sys.stderr.write(f"{manifest} is out of date: run `python -m train_app rayservice`\n")
        raise typer.Exit(1)
    manifest.write_text(fresh, encoding="utf-8")
    sys.stdout.write(f"wrote {manifest} from {config}\n")
