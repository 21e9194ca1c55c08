"""Settings of the Celery worker the integration tests start: the test suite's
settings on the test database pytest-django created, with Celery on Redis.
run by: DJANGO_SETTINGS_MODULE=wacloud_integration_settings celery -A wacloud_celery_app worker"""

from __future__ import annotations

import os

from wacloud_test_settings import *  # noqa: F403
from wacloud_test_settings import DATABASES, WACLOUD

# pytest-django's test database (already created, already migrated by the test process).
DATABASES["default"]["NAME"] = os.environ["WACLOUD_INTEGRATION_DB_NAME"]
DATABASES["default"]["CONN_MAX_AGE"] = 0

WACLOUD = {
    **WACLOUD,
    "USE_CELERY": True,
    "BASE_URL": os.environ["WACLOUD_INTEGRATION_BASE_URL"],
    "REQUEST_TIMEOUT": 1,
    "MAX_RETRIES": 1,
    "SEND_MAX_ATTEMPTS": 6,
    "TASK_RETRY_BACKOFF_SECONDS": 0.3,
}
