"""Django set-up for tests/django, done here because pytest.ini is shared:
``DJANGO_SETTINGS_MODULE`` defaults to ``wacloud_test_settings`` (this folder)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wacloud_test_settings")
    from django.apps import apps

    import django

    # When this conftest is not an initial one (plain `pytest` from the root),
    # pytest-django has already run its own set-up, without settings.
    if not apps.ready:
        django.setup()


@pytest.fixture
def account(db):
    from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

    from wacloud_django.models import BusinessAccount

    return BusinessAccount.objects.create(
        name="Main",
        phone_number_id=PHONE_NUMBER_ID,
        waba_id=WABA_ID,
        display_phone_number="972123456789",
        access_token="EAAG-test-token",
        app_secret=APP_SECRET,
        verify_token="account-verify-token",
    )


@pytest.fixture
def post_webhook(client, django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """POST a body as Meta would (signed with ``secret``) and run what is scheduled after commit."""
    from wacloud_test_helpers import APP_SECRET, WEBHOOK_URL, dumps, sign

    def post(body: Any, secret: str | None = APP_SECRET, url: str = WEBHOOK_URL, **headers: str):
        if not isinstance(body, bytes):
            body = dumps(body)
        if secret is not None:
            headers.setdefault("HTTP_X_HUB_SIGNATURE_256", sign(secret, body))
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=body, content_type="application/json", **headers)

    return post


@pytest.fixture(autouse=True)
def _closed_circuits():
    """Every test starts with closed circuit breakers (the memory backend keeps them per process)."""
    from wacloud_django.services.circuit import forget_circuit_breakers

    forget_circuit_breakers()


@pytest.fixture(scope="session")
def sandbox_server():
    """One Cloud API sandbox for the suite; `sandbox` resets it for each test."""
    from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

    from wacloud.sandbox import Sandbox

    with Sandbox(
        access_token="EAAG-test-token",
        phone_number_id=PHONE_NUMBER_ID,
        waba_id=WABA_ID,
        app_secret=APP_SECRET,
        # A second valid token, known after every reset: the API's rotate-token door succeeds.
        tokens={"EAAG-second-valid-token": {}},
    ) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server, settings):
    """The sandbox, fresh, with WACLOUD pointed at it."""
    sandbox_server.reset()
    sandbox_server.clear_faults()
    settings.WACLOUD = {**settings.WACLOUD, "BASE_URL": sandbox_server.base_url, "REQUEST_TIMEOUT": 5}
    yield sandbox_server
    sandbox_server.clear_faults()


@pytest.fixture
def caught():
    """Every wacloud signal sent, as (name, kwargs)."""
    from wacloud_django import signals

    sent = []
    names = ["message_received", "message_status_changed", "template_status_changed", "webhook_error",
             "webhook_event_received"]  # fmt: skip
    for name in names:
        getattr(signals, name).connect(
            lambda sender, name=name, **kwargs: sent.append((name, kwargs)),
            weak=False,
            dispatch_uid=f"t-{name}",
        )
    yield sent
    for name in names:
        getattr(signals, name).disconnect(dispatch_uid=f"t-{name}")
