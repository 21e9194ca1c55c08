"""Where the real-shaped webhook bodies live (``WACLOUD_FIXTURES_DIR`` overrides)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(
    os.environ.get("WACLOUD_FIXTURES_DIR", REPO_ROOT.parent / "shared" / "fixtures" / "webhooks")
)
