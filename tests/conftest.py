"""Shared pytest set-up.

``WACLOUD_CORE_PATH=/path/to/_core.cpython-*.so`` runs the suite against a core
built elsewhere (e.g. ``cmake --build build/dev``) instead of the installed one.
"""

from __future__ import annotations

import importlib.util
import os
import sys

_core_path = os.environ.get("WACLOUD_CORE_PATH")
if _core_path:
    _spec = importlib.util.spec_from_file_location("wacloud._core", _core_path)
    assert _spec is not None and _spec.loader is not None, _core_path
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["wacloud._core"] = _module
    _spec.loader.exec_module(_module)
