"""Row helpers for the intake's hot path."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

M = TypeVar("M", bound=models.Model)


def insert_or_get(model: type[M], defaults: dict[str, Any], **lookup: Any) -> tuple[M, bool]:
    """``get_or_create`` for rows that are almost always new: the INSERT is tried
    first (no SELECT before it), and only a unique conflict looks the row up.
    Returns ``(row, created)``; another integrity error is raised as it is."""
    try:
        with transaction.atomic():
            return model._default_manager.create(**lookup, **defaults), True
    except IntegrityError:
        try:
            return model._default_manager.get(**lookup), False
        except model.DoesNotExist:
            pass
        raise
