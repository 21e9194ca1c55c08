"""The Celery app of the integration tests, shared by the test process (which
queues tasks) and the worker subprocess (which runs them)."""

from __future__ import annotations

import os

from celery import Celery

REDIS_URL = os.environ.get("WACLOUD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: One queue per test session, so tasks left over from an earlier run never reach this worker.
QUEUE = os.environ.setdefault("WACLOUD_INTEGRATION_QUEUE", f"wacloud-integration-{os.getpid()}")

app = Celery("wacloud_integration", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=600,
)

if os.environ.get("DJANGO_SETTINGS_MODULE") == "wacloud_integration_settings":
    # In the worker: set Django up, then register wacloud's shared tasks with this app.
    import django

    django.setup()
    import wacloud_django.tasks  # noqa: F401
