"""The help desk (docs/helpdesk.md): tickets opened from WhatsApp messages, 24-hour sessions,
the /help /status /new /cancel commands, and ticket backends chosen by dotted path.

Off unless ``WACLOUD["HELPDESK"]["ENABLED"]``. Models live in ``helpdesk.models`` (imported by
``wacloud_django.models`` so Django finds them); the logic in ``helpdesk.services``; the
``message_received`` receiver in ``helpdesk.receivers``; the REST views in ``helpdesk.api``."""
