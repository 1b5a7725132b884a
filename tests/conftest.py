"""Shared pytest fixtures: each real local service lives in its own fixture module."""

from __future__ import annotations

pytest_plugins: list[str] = []
