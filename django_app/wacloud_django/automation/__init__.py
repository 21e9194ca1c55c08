"""Automation: consent (opt-in/opt-out records, keywords), and later rules, confirmations,
schedules and campaigns. Models live in ``automation.models`` (imported by ``wacloud_django.models``
so Django finds them); the logic in ``automation.services``."""
