"""Fixtures for the security tests: the API's (token clients, templates, gates).
The live stream's access re-checks run in real Chromium: tests/browser/test_live_access.py."""

from __future__ import annotations

from tests.api.conftest import acme_run, as_user, counted_from_zero, open_gate, tiny_workflow

__all__ = ["acme_run", "as_user", "counted_from_zero", "open_gate", "tiny_workflow"]
