"""The core, the client and the sandbox install and import without Django (the [django]
extra brings it), so importing them must never import Django."""

import subprocess
import sys

import pytest

CHECK = """
import sys
import wacloud, wacloud.client, wacloud.phone, wacloud.webhook, wacloud.__main__
from wacloud.sandbox import Sandbox, SandboxConfig
from wacloud.sandbox import server, cli, spec, conformance
leaked = sorted(name for name in sys.modules if name == "django" or name.startswith("django."))
print(",".join(leaked))
"""


def test_importing_wacloud_imports_no_django():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(result.stderr)
    assert result.stdout.strip() == ""


def test_the_wheel_ships_the_inbox_templates_and_static_files():
    """scikit-build-core copies every file of ``wheel.packages`` that no exclude or
    .gitignore drops: the web inbox's templates, CSS, JavaScript and vendored htmx."""
    import fnmatch
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    config = (root / "pyproject.toml").read_text()  # no tomllib before Python 3.11
    packages = re.search(r"^wheel\.packages = \[(.*)\]$", config, re.M)
    assert packages and '"django_app/wacloud_django"' in packages.group(1)
    package = root / "django_app" / "wacloud_django"
    shipped = [
        package / "templates" / "wacloud" / "inbox" / "base.html",
        package / "templates" / "wacloud" / "inbox" / "chat.html",
        package / "static" / "wacloud" / "htmx.min.js",
        package / "static" / "wacloud" / "inbox.css",
        package / "static" / "wacloud" / "inbox.js",
    ]
    excludes = [
        pattern
        for listed in re.findall(r"^(?:wheel|sdist)\.exclude = \[(.*)\]$", config, re.M)
        for pattern in re.findall(r'"([^"]+)"', listed)
    ]
    assert "build" in excludes  # the patterns were read
    for path in shipped:
        relative = str(path.relative_to(root))
        assert path.is_file(), relative
        assert not any(fnmatch.fnmatch(relative, pattern) for pattern in excludes), relative
        if (root / ".git").exists():  # a checkout (not an unpacked sdist)
            ignored = subprocess.run(["git", "check-ignore", "-q", relative], cwd=root, check=False)
            assert ignored.returncode == 1, f"{relative} is git-ignored: the sdist would drop it"
