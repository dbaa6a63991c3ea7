"""Fixtures shared by the serve_app tests (the session-wide servers are in tests/conftest.py)."""

from __future__ import annotations

from tests.serve_app.fake_receivers import servers

__all__ = ["servers"]
