"""The browser suite: Playwright for Python driving the system's Chromium against a live
server, with the sandbox as Meta. Run by .ci/run (``pytest tests/browser``), not by
``make test``. Skipped, with the reason printed, where Playwright or Chromium is missing;
``WACLOUD_BROWSER=/path/to/chromium`` names another browser."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DJANGO_TESTS = HERE.parent / "django"
ROOT = HERE.parent.parent
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def pytest_configure(config):
    if str(DJANGO_TESTS) not in sys.path:
        sys.path.insert(0, str(DJANGO_TESTS))
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from django.apps import apps

    if not apps.ready:  # run alone: the Django suite's settings
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wacloud_test_settings")
        import django

        django.setup()


def browser_path() -> str | None:
    wanted = os.environ.get("WACLOUD_BROWSER")
    if wanted:
        return wanted if Path(wanted).exists() else None
    return next((path for path in CANDIDATES if Path(path).exists()), shutil.which("chromium"))


def pytest_collection_modifyitems(config, items):
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright for Python is not installed (pip install pytest-playwright)"
    if reason is None and browser_path() is None:
        reason = (
            f"no Chromium found ({', '.join(CANDIDATES)}; apt-get install chromium, or set WACLOUD_BROWSER)"
        )
    if reason and os.environ.get("WACLOUD_BROWSER_REQUIRED"):  # CI: a missing browser fails
        raise pytest.UsageError(f"WACLOUD_BROWSER_REQUIRED is set but {reason}")
    for item in items:
        if reason and HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=f"browser suite skipped: {reason}"))


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where each page's screenshot goes (docs/images/inbox by default, for docs/inbox.md)."""
    folder = Path(os.environ.get("WACLOUD_SCREENSHOT_DIR", ROOT / "docs" / "images" / "inbox"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """In memory, SQLite is one connection shared by the live server and the test; a file
    gives each its own (used when this folder runs alone, as .ci/run does)."""
    import tempfile

    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"].endswith("sqlite3") and not database.get("TEST", {}).get("NAME"):
        folder = Path(tempfile.mkdtemp(prefix="wacloud-browser-"))
        database.setdefault("TEST", {})["NAME"] = str(folder / "db.sqlite3")


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in the test thread, which Django
    # takes for async code; the test's database calls are plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path(), args=["--no-sandbox"])
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="session")
def live_server(django_db_setup):
    """pytest-django's live server, answering one request at a time: the sandbox's webhooks
    and the browser's requests then never share SQLite at once."""
    from django.core.servers.basehttp import WSGIServer
    from pytest_django.live_server_helper import LiveServer

    class SerialServer(WSGIServer):
        def __init__(self, *args, connections_override=None, **kwargs):
            super().__init__(*args, **kwargs)

    server = LiveServer("localhost", start=False)
    server.thread.server_class = SerialServer
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_sandbox(live_server):
    """Meta for the live server: its webhooks (inbound messages, statuses) reach it signed.
    Statuses come slowly enough for each tick to be seen: sent, delivered after 1 s, read after 5 s."""
    from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

    from wacloud.sandbox import Sandbox

    with Sandbox(
        access_token="EAAG-test-token", phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID,
        app_secret=APP_SECRET, webhook_url=f"{live_server.url}/whatsapp/webhook/", sent_after=0.2,
        delivered_after=1.0, read_after=5.0, template_review_seconds=0.2, webhook_retry_base=0.2,
        webhook_retry_max=1.0,
    ) as server:  # fmt: skip
        yield server


@pytest.fixture
def inbox_site(live_server, live_sandbox, settings, transactional_db):
    """The live server with the inbox's static files served (the live server serves
    STATIC_ROOT; the test settings have no staticfiles app) and WACLOUD pointed at the sandbox."""
    import wacloud_django

    live_sandbox.reset()
    settings.STATIC_ROOT = str(Path(wacloud_django.__file__).resolve().parent / "static")
    settings.WACLOUD = {**settings.WACLOUD, "BASE_URL": live_sandbox.base_url, "REQUEST_TIMEOUT": 5}
    return live_server
