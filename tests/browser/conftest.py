"""The browser suite: Playwright for Python driving the system's Chromium against a live
ASGI server with the inbox's WebSocket, with the sandbox as Meta. Run by .ci/run
(``pytest tests/browser``), not by ``make test``. Skipped, with the reason printed, where
Playwright or Chromium is missing; ``WACLOUD_BROWSER=/path/to/chromium`` names another browser."""

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
def asgi_live_server(django_db_setup):
    """The project under uvicorn (ASGI) with the inbox's WebSocket and the in-memory channel
    layer, in this process (asgi_server.py): the pages are pushed each change."""
    from asgi_server import AsgiLiveServer
    from channels.layers import channel_layers
    from django.test.utils import override_settings

    layer = override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}})
    layer.enable()
    channel_layers.backends.clear()
    server = AsgiLiveServer()
    server.start()
    yield server
    server.stop()
    layer.disable()
    channel_layers.backends.clear()


@pytest.fixture(scope="session")
def live_sandbox(asgi_live_server):
    """Meta for the live server: its webhooks (inbound messages, statuses) reach it signed.
    Statuses come slowly enough for each tick to be seen: sent, delivered after 1 s, read after 5 s."""
    from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

    from wacloud.sandbox import Sandbox

    with Sandbox(
        access_token="EAAG-test-token", phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID,
        app_secret=APP_SECRET, webhook_url=f"{asgi_live_server.url}/whatsapp/webhook/", sent_after=0.2,
        delivered_after=1.0, read_after=5.0, template_review_seconds=0.2, webhook_retry_base=0.2,
        webhook_retry_max=1.0,
    ) as server:  # fmt: skip
        yield server


@pytest.fixture
def inbox_site(asgi_live_server, live_sandbox, settings, transactional_db):
    """The live server with the inbox's static files served (the live server serves
    STATIC_ROOT; the test settings have no staticfiles app), WACLOUD pointed at the sandbox
    and the pages connecting to the inbox's WebSocket."""
    import wacloud_django

    live_sandbox.reset()
    settings.STATIC_ROOT = str(Path(wacloud_django.__file__).resolve().parent / "static")
    settings.WACLOUD = {**settings.WACLOUD, "BASE_URL": live_sandbox.base_url, "REQUEST_TIMEOUT": 5,
                        "INBOX_LIVE_URL": "/inbox/ws/"}  # fmt: skip
    return asgi_live_server


@pytest.fixture
def admin_user(inbox_site):
    """Ana, admin of the default organization, whose account is the sandbox's number."""
    from browser_support import PASSWORD, USERNAME
    from django.contrib.auth import get_user_model
    from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

    from wacloud_django.models import BusinessAccount, Membership
    from wacloud_django.services.tenancy import default_organization

    organization = default_organization()
    BusinessAccount.objects.create(
        organization=organization, name="Support line", phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID,
        display_phone_number="15550783881", access_token="EAAG-test-token", app_secret=APP_SECRET,
        verify_token="browser-verify-token",
    )  # fmt: skip
    user = get_user_model().objects.create_user(USERNAME, "ana@example.com", PASSWORD)
    Membership.objects.create(user=user, organization=organization, role="admin")
    return user


@pytest.fixture
def browser_context(chromium, inbox_site):
    from browser_support import WAIT_MS
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    yield context
    context.close()


@pytest.fixture
def tab(browser_context):
    return browser_context.new_page()
