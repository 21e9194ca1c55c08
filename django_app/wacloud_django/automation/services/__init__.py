"""Automation's logic, as plain functions (the same rule as ``wacloud_django.services``)."""
