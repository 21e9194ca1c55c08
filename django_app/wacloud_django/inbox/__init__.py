"""The web inbox: server-rendered pages for the members of an organization (docs/inbox.md).
Mount with ``path("inbox/", include("wacloud_django.inbox.urls"))``."""
