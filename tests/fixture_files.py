"""Where the real-shaped webhook bodies live.

``FIXTURES_DIR`` is the project's own corpus (``tests/data/webhooks``; ``WACLOUD_FIXTURES_DIR``
overrides it): tests that load a sample by name read it there. ``all_fixture_paths()`` adds the
bodies of ``../shared/fixtures/webhooks`` beside the checkout, when that exists, that the corpus
lacks: extra cases for tests that walk every sample, never required."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(os.environ.get("WACLOUD_FIXTURES_DIR", REPO_ROOT / "tests" / "data" / "webhooks"))
SHARED_FIXTURES_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "webhooks"


def all_fixture_paths() -> list[Path]:
    """Every ``*.json`` of ``FIXTURES_DIR``, then the shared ones whose names it lacks."""
    own = sorted(FIXTURES_DIR.glob("*.json"))
    names = {path.name for path in own}
    extra = []
    if SHARED_FIXTURES_DIR.is_dir() and SHARED_FIXTURES_DIR.resolve() != FIXTURES_DIR.resolve():
        extra = sorted(path for path in SHARED_FIXTURES_DIR.glob("*.json") if path.name not in names)
    return own + extra
