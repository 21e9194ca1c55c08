"""The test settings plus django-helpdesk, for tests/django/test_helpdesk_django_helpdesk.py
(which runs itself under these settings): what a project using the django-helpdesk backend
adds to its own settings (docs/helpdesk.md)."""

from wacloud_test_settings import *  # noqa: F403
from wacloud_test_settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.sites", "django.contrib.humanize", "helpdesk"]
SITE_ID = 1
# Teams need pinax-teams; the backend uses queues, tickets and follow-ups only.
HELPDESK_TEAMS_MODE_ENABLED = False
# These tests run in a child pytest while the parent's test database exists: on PostgreSQL,
# a test database of their own.
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_helpdesk"}
