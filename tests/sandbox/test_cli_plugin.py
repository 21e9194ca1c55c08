"""The command line and the pytest plugin, each run as a real separate process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_plugin_module_does_not_import_aiohttp():
    code = "import sys, wacloud.sandbox.pytest_plugin; print('aiohttp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_cli_serves_saves_state_and_stops_on_sigterm(tmp_path):
    port, state_file = free_port(), tmp_path / "state.json"
    command = [
        sys.executable,
        "-m",
        "wacloud.sandbox",
        "--port",
        str(port),
        "--access-token",
        "cli-token",
        "--phone-number-id",
        "123456",
        "--waba-id",
        "654321",
        "--state",
        str(state_file),
        "--latency-ms",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/_sandbox")
        config = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/config").read())
        assert (config["phone_number_id"], config["waba_id"]) == ("123456", "654321")
        faults = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/faults").read())
        assert faults["latency_ms"] == 1
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v21.0/123456", headers={"Authorization": "Bearer cli-token"}
        )
        assert json.loads(urllib.request.urlopen(request).read())["id"] == "123456"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert f"127.0.0.1:{port}" in out
    assert json.loads(state_file.read_text())["templates"]


def test_cli_reports_bad_arguments():
    result = subprocess.run(
        [sys.executable, "-m", "wacloud.sandbox", "--access-token", "t", "--phone-number-id", "abc"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "phone_number_id must be digits" in result.stderr
    result = subprocess.run([sys.executable, "-m", "wacloud.sandbox"], capture_output=True, text=True)
    assert result.returncode == 2 and "--access-token" in result.stderr


USER_TEST = textwrap.dedent(
    """
    import json, urllib.request
    import pytest

    def test_default(wa_sandbox):
        wa_sandbox.inject_inbound(**{"from": "15550001111"}, type="text", text="hi")
        (received,) = wa_sandbox.collector.wait(1)
        assert received.signature_valid(wa_sandbox.config.app_secret)

    @pytest.mark.wa_sandbox(messages_per_second=1, access_token="marker-token")
    def test_marker(wa_sandbox):
        assert wa_sandbox.config.messages_per_second == 1
        assert wa_sandbox.config.access_token == "marker-token"

    @pytest.mark.wa_sandbox(webhook_url="http://127.0.0.1:9/from-marker")
    def test_marker_url(wa_sandbox):
        assert wa_sandbox.collector is None
        assert wa_sandbox.config.webhook_url == "http://127.0.0.1:9/from-marker"
    """
)


@pytest.mark.parametrize("option", [[], ["--wa-sandbox-webhook-url", "http://127.0.0.1:9/from-option"]])
def test_fixture_in_a_users_test_run(tmp_path, option):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    if option:
        (tmp_path / "test_user.py").write_text(
            USER_TEST.split("def test_default")[0]
            + "def test_option(wa_sandbox):\n"
            + "    assert wa_sandbox.collector is None\n"
            + "    assert wa_sandbox.config.webhook_url.endswith('/from-option')\n"
        )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",  # the plugin loads through its pytest11 entry point, as in a user's project
            "--strict-markers",
            "-W",
            "error",
            "-W",  # editable installs only; see filterwarnings in pyproject.toml
            "ignore:Module already imported so cannot be rewritten; _editable_skbc_wacloud"
            ":pytest.PytestAssertRewriteWarning",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tmp_path),
            *option,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        # A user's project: none of this suite's Django test settings.
        env={
            **{key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("1 passed" if option else "3 passed") in result.stdout
