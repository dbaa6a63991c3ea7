"""`python -m cli` runs the `alertsieve` command."""

from cli.main import main

main()
