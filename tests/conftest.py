"""Shared pytest set-up.

``WACLOUD_CORE_PATH=/path/to/_core.cpython-*.so`` runs the suite against a core
built elsewhere (e.g. ``cmake --build build/dev``) instead of the installed one.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

# Fails the run when a log record carries a fixture secret or phone number (tests/log_scan.py).
pytest_plugins = ["log_scan"]

_core_path = os.environ.get("WACLOUD_CORE_PATH")
if _core_path and "wacloud._core" in sys.modules:
    # The sandbox's pytest11 plugin imports wacloud before any conftest runs.
    raise pytest.UsageError(
        "WACLOUD_CORE_PATH is set but wacloud._core is already imported from "
        f"{sys.modules['wacloud._core'].__file__}: add -p no:wacloud.sandbox.pytest_plugin "
        "(tests/sandbox need the plugin: run those against the installed core)"
    )
if _core_path:
    _spec = importlib.util.spec_from_file_location("wacloud._core", _core_path)
    assert _spec is not None and _spec.loader is not None, _core_path
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["wacloud._core"] = _module
    _spec.loader.exec_module(_module)
