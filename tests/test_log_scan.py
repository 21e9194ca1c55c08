"""The suite-wide log scan (tests/log_scan.py): what it recognises, that the session's
handler really sees records, and that a leak makes a pytest run fail naming the test."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import log_scan

HERE = Path(__file__).resolve().parent


def test_scan_text_finds_fixture_secrets_tokens_and_phone_numbers():
    found = log_scan.scan_text(
        "secret account-app-secret, token EAAG-secret-token-123, to 972987654321 and +15551234567"
    )
    assert found == [
        "secret 'account-app-secret'",
        "access token 'EAAG-secret-token-123'",
        "phone number '972987654321'",
        "phone number '15551234567'",
    ]


def test_scan_text_ignores_masked_values_and_longer_ids():
    # What the privacy filter writes, and ids that merely contain a fixture number.
    text = "to +97298****21, token EAA[redacted], id 1972987654321999, key 0f0f"
    assert log_scan.scan_text(text) == []
    # Letters around a number do not hide it (digits do: that is another number).
    assert log_scan.scan_text("wa_id=972987654321;") == ["phone number '972987654321'"]


@pytest.mark.log_scan_expected  # the records reach the session's handler too
def test_handler_scans_the_traceback_too():
    handler = log_scan.ScanHandler()
    handler.test = "t::x"
    logger = logging.getLogger("tests.log_scan.traceback")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("bad verify token global-verify-token")
        except ValueError:
            logger.exception("a failure without details")
    finally:
        logger.removeHandler(handler)
    assert [(f.test, f.found) for f in handler.findings] == [("t::x", "secret 'global-verify-token'")]
    assert "Traceback" in handler.findings[0].record


@pytest.mark.log_scan_expected
def test_handler_ignores_debug_records():
    handler = log_scan.ScanHandler()
    logger = logging.getLogger("tests.log_scan.debug")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        logger.debug("token EAAG-test-token")
        logger.info("token EAAG-test-token")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert [f.level for f in handler.findings] == ["INFO"]


@pytest.mark.log_scan_expected
def test_the_session_handler_catches_a_leak_in_a_marked_test(request):
    before = len(log_scan.expected_findings())
    # A logger with no level of its own, at INFO: the plugin made the root logger pass INFO.
    logging.getLogger("tests.log_scan.marked").info("sending to 972123456789 with EAAG-test-token")
    caught = log_scan.expected_findings()[before:]
    assert {(f.test, f.logger, f.found) for f in caught} == {
        (request.node.nodeid, "tests.log_scan.marked", "phone number '972123456789'"),
        (request.node.nodeid, "tests.log_scan.marked", "access token 'EAAG-test-token'"),
    }


def _run_pytest(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_leak.py").write_text(textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # set by tests/django when this runs after it
    plugins = ["-p", "log_scan", "-p", "no:cacheprovider", "-p", "no:django"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-q", "test_leak.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_leak_fails_the_run_and_names_the_test_and_the_record(tmp_path):
    result = _run_pytest(
        tmp_path,
        """
        import logging

        def test_clean():
            logging.getLogger("app").warning("nothing to see")

        def test_leaky():
            logging.getLogger("app.payments").warning("app secret is account-app-secret")
        """,
    )
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert (
        "test_leak.py::test_leaky: WARNING app.payments carries secret 'account-app-secret': "
        "WARNING app.payments: app secret is account-app-secret"
    ) in result.stdout


def test_a_clean_run_passes(tmp_path):
    result = _run_pytest(
        tmp_path,
        """
        import logging

        def test_clean():
            logging.getLogger("app").warning("to +97212****89")
        """,
    )
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
