"""The `alertsieve` command: every command of every room, imported explicitly (``cli.main``).

The outermost room: it may import everything, and nothing imports it.
"""
