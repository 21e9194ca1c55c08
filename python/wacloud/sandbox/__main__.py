"""``python -m wacloud.sandbox``: see :mod:`wacloud.sandbox.cli`."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
