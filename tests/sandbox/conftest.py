"""Fixtures for the sandbox suite (helpers live in sandbox_support.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_support import USER, Graph


@pytest.fixture
def graph(wa_sandbox: Any) -> Graph:
    return Graph(wa_sandbox)


@pytest.fixture
def open_window(wa_sandbox: Any) -> str:
    """A user who just wrote to the business, so free-form messages are allowed."""
    wa_sandbox.inject_inbound(**{"from": USER}, name="Ana", type="text", text="hi")
    return USER
