"""A pytest plugin (loaded by tests/conftest.py) that fails the run when any log record of
INFO and above, from any logger, carries a secret or a full phone number of the fixtures.

A handler on the root logger formats every record as a real handler would (message and
traceback) and scans the text; at the end of the session the findings are listed, each
with its test and record, and the exit status is made non-zero. Records of a test
marked ``log_scan_expected`` are kept apart (:func:`expected_findings`), so a test can
prove the scan works without failing the run. With pytest-xdist, each worker hands its
findings to the controller.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

import pytest

#: Secrets the fixtures use (tests/django/conftest.py, wacloud_test_helpers.py,
#: wacloud_test_settings.py, api_test_helpers.py and the tests that make their own accounts).
FIXTURE_SECRETS = (
    "account-app-secret",
    "global-app-secret",
    "global-verify-token",
    "account-verify-token",
    "secret-1122334455667",
    "other-secret",
    "wrong-secret",
    "added-secret",
    "not-the-secret",
    "0f" * 32,  # WACLOUD["ENCRYPTION_KEY"]
    "cd" * 32,
    "wacloud-tests-not-secret",  # SECRET_KEY
)
#: Every access token of the fixtures starts so (EAAG-test-token, EAAG-secret-token-123, ...).
TOKEN_PATTERN = re.compile(r"EAAG-[\w-]+")
#: Full phone numbers (wa_ids) the tests send to and receive from.
FIXTURE_PHONE_NUMBERS = (
    "972987654321",
    "972123456789",
    "972912345678",
    "15551234567",
    "15550001111",
    "15550002222",
    "15550003333",
    "15550004444",
    "15550009999",
    "16505551234",
    "12025550100",
    "442079460958",
    "447911123456",
    "447400123456",
    "5511999990001",
    "5511999990002",
    "5511999990003",
    "5511987654321",
    "972500000002",
    "972500000011",
    "972500000099",
)
_PHONE_PATTERN = re.compile(
    r"(?<!\d)(?:"
    + "|".join(sorted(map(re.escape, FIXTURE_PHONE_NUMBERS), key=len, reverse=True))
    + r")(?!\d)"
)
MARKER = "log_scan_expected"
FORMAT = "%(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class Finding:
    test: str
    logger: str
    level: str
    found: str
    record: str

    def __str__(self) -> str:
        return f"{self.test}: {self.level} {self.logger} carries {self.found}: {self.record[:500]}"


def scan_text(text: str) -> list[str]:
    """What in ``text`` must never be logged, as ``secret '...'``, ``access token '...'``
    or ``phone number '...'``."""
    found = [f"secret {secret!r}" for secret in FIXTURE_SECRETS if secret in text]
    found += [f"access token {match!r}" for match in dict.fromkeys(TOKEN_PATTERN.findall(text))]
    found += [f"phone number {match!r}" for match in dict.fromkeys(_PHONE_PATTERN.findall(text))]
    return found


class ScanHandler(logging.Handler):
    """Formats and scans every record it is given; keeps what it finds."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(FORMAT))
        self.test = "(outside any test)"
        self.expected_test = False
        self.findings: list[Finding] = []
        self.expected: list[Finding] = []
        self._found_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception as error:  # a broken record must not hide the others
            text = f"{record.msg!r} {record.args!r} (unformattable: {error})"
        found = scan_text(text)
        if not found:
            return
        findings = [Finding(self.test, record.name, record.levelname, what, text) for what in found]
        with self._found_lock:
            (self.expected if self.expected_test else self.findings).extend(findings)


_handler: ScanHandler | None = None
_previous_root_level: int | None = None


def expected_findings() -> list[Finding]:
    """What the session's handler caught in tests marked ``log_scan_expected``."""
    return list(_handler.expected) if _handler is not None else []


def pytest_configure(config: pytest.Config) -> None:
    global _handler, _previous_root_level
    config.addinivalue_line("markers", f"{MARKER}: the test logs fixture secrets on purpose (log_scan.py)")
    _handler = ScanHandler()
    root = logging.getLogger()
    root.addHandler(_handler)
    if root.level > logging.INFO:
        # INFO records of loggers without a level of their own must be created to be scanned.
        _previous_root_level = root.level
        root.setLevel(logging.INFO)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None
    if _previous_root_level is not None:
        logging.getLogger().setLevel(_previous_root_level)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    if _handler is None:
        yield
        return
    _handler.test = item.nodeid
    _handler.expected_test = item.get_closest_marker(MARKER) is not None
    try:
        yield
    finally:
        _handler.test = "(between tests)"
        _handler.expected_test = False


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is None or not _handler.findings:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports
        workeroutput["wacloud_log_findings"] = [asdict(finding) for finding in _handler.findings]
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: collect a worker's findings."""
    output = getattr(node, "workeroutput", None) or {}
    if _handler is not None:
        _handler.findings.extend(Finding(**found) for found in output.get("wacloud_log_findings", []))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _handler is None or not _handler.findings:
        return
    terminalreporter.section("fixture secrets or phone numbers in log records", sep="=", red=True, bold=True)
    for finding in _handler.findings[:50]:
        terminalreporter.line(str(finding), red=True)
    if len(_handler.findings) > 50:
        terminalreporter.line(f"... and {len(_handler.findings) - 50} more")
