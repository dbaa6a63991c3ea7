"""`python -m alertsieve` runs the CLI."""

from alertsieve.cli import main

main()
