"""The core, the client and the sandbox install and import without Django (the [django]
extra brings it), so importing them must never import Django."""

import subprocess
import sys

import pytest

CHECK = """
import sys
import wacloud, wacloud.client, wacloud.phone, wacloud.webhook, wacloud.__main__
from wacloud.sandbox import Sandbox, SandboxConfig
from wacloud.sandbox import server, cli
leaked = sorted(name for name in sys.modules if name == "django" or name.startswith("django."))
print(",".join(leaked))
"""


def test_importing_wacloud_imports_no_django():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(result.stderr)
    assert result.stdout.strip() == ""
