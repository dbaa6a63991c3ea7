"""``alertsieve dashboards``: regenerate the SLO rules and dashboards, push dashboards to Grafana.

``generate`` writes under ``./dashboards-out`` unless ``--out`` says where: the repository regenerates its
committed copy with ``alertsieve dashboards generate --out dashboards`` from its root.

The main CLI mounts ``dashboards_app`` (``app.add_typer(dashboards_app, name="dashboards")``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dashboards.generate import PACKAGE_DIR, generate
from dashboards.push import DEFAULT_FOLDER, GrafanaError, push_dashboards
from dashboards.slo import SLOS_FILE, load_slos

dashboards_app = typer.Typer(
    name="dashboards", help="SLO rules and Grafana dashboards of alertsieve.", no_args_is_help=True
)


DEFAULT_OUT = Path("dashboards-out")  # relative: under the directory the command runs in


@dashboards_app.command("generate")
def generate_command(
    root: Annotated[
        Path,
        typer.Option(
            "--out",
            "--root",
            help="Where generated/ and provisioning/ are written (relative to the current directory). "
            "The repository's own copy: --out dashboards, from the repository root.",
        ),
    ] = DEFAULT_OUT,
    slos: Annotated[Path, typer.Option("--slos", help="The SLO file.")] = SLOS_FILE,
) -> None:
    """Regenerate Prometheus rules, Grafana alert rules, dashboards and provisioning files (never into the
    installed package unless --out names it)."""
    for path in generate(root, load_slos(slos)):
        typer.echo(f"wrote {path}")


@dashboards_app.command("push")
def push_command(
    url: Annotated[str, typer.Option("--url", envvar="GRAFANA_URL", help="Grafana base URL.")],
    token: Annotated[
        str, typer.Option("--token", envvar="GRAFANA_TOKEN", help="Service-account token.", show_default=False)
    ],
    folder: Annotated[str, typer.Option("--folder", help="Grafana folder title.")] = DEFAULT_FOLDER,
    dashboards_dir: Annotated[Path, typer.Option("--dir", help="Directory of dashboard JSON files.")] = PACKAGE_DIR
    / "generated",
) -> None:
    """Create or overwrite the dashboards in a Grafana folder."""
    try:
        uids = push_dashboards(url, token, dashboards_dir, folder)
    except (GrafanaError, FileNotFoundError, ValueError) as error:
        typer.echo(f"push failed: {error}", err=True)
        raise typer.Exit(code=1) from error
    for uid in uids:
        typer.echo(f"pushed {uid}")
