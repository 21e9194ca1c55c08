"""A template by its id: read it (``GET /<TEMPLATE_ID>``) and edit it (``POST /<TEMPLATE_ID>``).
Both are plain JSON Graph calls made through the core client's ``call``, so retries, timeouts
and error mapping are the ones of every other call; an edit is a POST and is never resent
after a timeout (Meta counts edits).

Meta's rules for an edit: only an APPROVED, REJECTED or PAUSED template; its ``category`` and
``components`` only (the components replace all of the old ones); not the category of an
approved template; an approved one at most once in 24 hours and 10 times in 30 days."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from .errors import InvalidParameter

__all__ = ["CATEGORIES", "EDITABLE_STATUSES", "edit_body", "template_path"]

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
EDITABLE_STATUSES = ("APPROVED", "REJECTED", "PAUSED")
_FIELD = re.compile(r"^[a-z_]+$")


def template_path(template_id: Any, fields: Iterable[str] | None = None) -> str:
    """``/<TEMPLATE_ID>``, with ``?fields=`` when asked; a template id is digits."""
    if not isinstance(template_id, str) or not template_id.isdigit():
        raise InvalidParameter(
            f"template_id: must be Meta's numeric template id, not {template_id!r}", code=100
        )
    if fields is None:
        return f"/{template_id}"
    wanted = [fields] if isinstance(fields, str) else list(fields)
    if not wanted or not all(isinstance(f, str) and _FIELD.match(f) for f in wanted):
        raise InvalidParameter("fields: must name template fields such as 'status' or 'components'", code=100)
    return f"/{template_id}?{urlencode({'fields': ','.join(wanted)})}"


def edit_body(components: Sequence[Mapping[str, Any]] | None, category: str | None) -> str:
    """The JSON body of an edit: the new ``components`` (all of them), ``category``, or both."""
    if components is None and category is None:
        raise InvalidParameter("edit_template: give components, category or both", code=100)
    body: dict[str, Any] = {}
    if category is not None:
        if not isinstance(category, str) or category.upper() not in CATEGORIES:
            raise InvalidParameter(f"category: must be one of {', '.join(CATEGORIES)}", code=100)
        body["category"] = category.upper()
    if components is not None:
        if isinstance(components, (str, bytes, Mapping)) or not isinstance(components, Sequence):
            raise InvalidParameter("components: must be a list of component objects", code=100)
        for index, component in enumerate(components):
            if not isinstance(component, Mapping) or not component.get("type"):
                raise InvalidParameter(f'components[{index}]: must be an object with a "type"', code=100)
        if not any(str(c["type"]).upper() == "BODY" for c in components):
            raise InvalidParameter(
                "components: the new components replace all of them and need a BODY", code=100
            )
        body["components"] = [dict(c) for c in components]
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidParameter(f"components: {error}", code=100) from None
