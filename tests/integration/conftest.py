"""Integration set-up: a real Celery worker subprocess on real Redis, Django on
real PostgreSQL, the sandbox as Meta and a live server for its webhooks.

Nothing here skips: an unreachable Redis or PostgreSQL fails the tests, naming
the URL (``WACLOUD_TEST_REDIS_URL``, ``WACLOUD_TEST_DATABASE_URL``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DJANGO_TESTS = HERE.parent / "django"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def pytest_configure(config):
    for path in (HERE, DJANGO_TESTS):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from django.apps import apps

    if not apps.ready:
        # Run alone (pytest tests/integration): PostgreSQL by default, with the Django suite's settings.
        os.environ.setdefault("WACLOUD_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wacloud_test_settings")
        import django

        django.setup()


@pytest.fixture(scope="session")
def redis_url():
    import redis

    url = os.environ.get("WACLOUD_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
        client.flushdb()  # the test database (15 by default) holds nothing else
    except redis.RedisError as error:
        pytest.fail(f"Redis at {url} (WACLOUD_TEST_REDIS_URL) is unreachable: {error}", pytrace=False)
    return url


@pytest.fixture(scope="session")
def postgres(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.fail(
                "integration tests need PostgreSQL: set WACLOUD_TEST_DATABASE_URL "
                f"(e.g. {DEFAULT_DATABASE_URL}); the database in use is {connection.vendor}",
                pytrace=False,
            )
        connection.ensure_connection()
        return connection.settings_dict["NAME"]


@pytest.fixture(scope="session")
def sandbox(live_server):
    from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

    from wacloud.sandbox import Sandbox

    with Sandbox(
        access_token="EAAG-test-token", phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID,
        app_secret=APP_SECRET, webhook_url=f"{live_server.url}/whatsapp/webhook/", sent_after=0.02,
        delivered_after=0.04, read_after=0.06, webhook_retry_base=0.1, webhook_retry_max=1.0,
    ) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="session")
def celery_worker(redis_url, postgres, sandbox, tmp_path_factory):
    """``celery worker`` as a subprocess (threads pool, 4 at once) on the test database."""
    import wacloud_celery_app

    # Every thread of this process (the live server's too) queues on this app, even when an
    # earlier test already made Celery create its fallback "default" app.
    wacloud_celery_app.app.set_default()
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "wacloud_integration_settings",
        "WACLOUD_INTEGRATION_DB_NAME": postgres,
        "WACLOUD_INTEGRATION_BASE_URL": sandbox.base_url,
        "WACLOUD_TEST_REDIS_URL": redis_url,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(DJANGO_TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "wacloud_celery_app", "worker", "--pool=threads",
        "--concurrency=4", "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
        "-Q", wacloud_celery_app.QUEUE,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(command, cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not wacloud_celery_app.app.control.inspect(timeout=0.5).ping():
            if worker.poll() is not None or time.monotonic() > deadline:
                log = log_path.read_text()[-3000:]
                pytest.fail(f"the Celery worker did not start:\n{log}", pytrace=False)
        yield wacloud_celery_app.app
    finally:
        worker.terminate()
        worker.wait(timeout=20)
