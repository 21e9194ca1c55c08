"""The Flow JSON check of the sandbox, answering Meta's ``validation_errors`` (``error``,
``error_type``, ``message``, line and columns of the spot), and Meta's Flow management
error objects.

It covers what most mistakes break: the JSON itself, the top-level properties,
``version``, ``data_api_version``, ``routing_model``, and the screens (ids, layout, at
least one terminal screen). Meta checks every component too; the sandbox does not."""

from __future__ import annotations

import json
import re
from typing import Any

from .graph_errors import GraphError

#: Flow JSON versions Meta accepts (older ones have expired).
JSON_VERSIONS = frozenset("2.1 3.0 3.1 4.0 5.0 5.1 6.0 6.1 6.2 6.3 7.0 7.1 7.2".split())
DATA_API_VERSIONS = frozenset({"3.0"})
TOP_LEVEL = frozenset({"version", "screens", "routing_model", "data_api_version", "data_channel_uri"})
_SCREEN_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def flow_error(code: int, title: str, message: str) -> GraphError:
    """Meta's Flow management errors: ``Invalid parameter`` with a user title and message
    (139000 blocked, 139001 update, 139002 publish, 139003 deprecate, 139004 delete)."""
    return GraphError(
        code,
        message="Invalid parameter",
        extra={"is_transient": False, "error_user_title": title, "error_user_msg": message},
        with_error_data=False,
    )


# -- Flow JSON ------------------------------------------------------------------------------------
def _position(text: str, needle: str) -> dict[str, int]:
    """Line and columns (1-based) of the first ``needle`` in ``text``, else of the start."""
    index = text.find(needle) if needle else -1
    if index < 0:
        return {"line_start": 1, "line_end": 1, "column_start": 1, "column_end": 1}
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return {"line_start": line, "line_end": line, "column_start": column, "column_end": column + len(needle)}


def _problem(text: str, error: str, message: str, near: str = "") -> dict[str, Any]:
    return {"error": error, "error_type": "JSON_SCHEMA_ERROR", "message": message, **_position(text, near)}


def validate_flow_json(text: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The parsed Flow JSON and its validation errors (Meta's objects: ``error``,
    ``error_type``, ``message``, line and columns). Text that is not a JSON object
    raises Meta's 139001."""
    try:
        flow = json.loads(text)
    except ValueError as error:
        raise flow_error(
            139001, "Error while processing Flow JSON", f"The Flow JSON is not valid JSON: {error}."
        ) from None
    if not isinstance(flow, dict):
        raise flow_error(139001, "Error while processing Flow JSON", "The Flow JSON must be a JSON object.")
    problems: list[dict[str, Any]] = []
    for key in flow:
        if key not in TOP_LEVEL:
            problems.append(
                _problem(
                    text,
                    "INVALID_PROPERTY",
                    f'The property "{key}" cannot be specified at "$root".',
                    f'"{key}"',
                )
            )
    version = flow.get("version")
    if version is None:
        problems.append(
            _problem(text, "MISSING_REQUIRED_PROPERTY", 'The property "version" is required at "$root".')
        )
    elif version not in JSON_VERSIONS:
        problems.append(
            _problem(
                text,
                "INVALID_VERSION",
                f'The Flow JSON version "{version}" is not supported; use one of '
                f"{', '.join(sorted(JSON_VERSIONS))}.",
                '"version"',
            )
        )
    data_api = flow.get("data_api_version")
    if data_api is not None and data_api not in DATA_API_VERSIONS:
        problems.append(
            _problem(
                text,
                "INVALID_PROPERTY_VALUE",
                'The property "data_api_version" must be "3.0".',
                '"data_api_version"',
            )
        )
    screens = flow.get("screens")
    if not isinstance(screens, list) or not screens:
        problems.append(
            _problem(
                text,
                "MISSING_REQUIRED_PROPERTY",
                'The property "screens" must be a non-empty array.',
                '"screens"',
            )
        )
        return flow, problems
    ids = _check_screens(text, screens, problems)
    routing = flow.get("routing_model")
    if routing is not None:
        _check_routing(text, routing, ids, problems)
    return flow, problems


def _check_screens(text: str, screens: list[Any], problems: list[dict[str, Any]]) -> set[str]:
    ids: set[str] = set()
    terminal = False
    for index, screen in enumerate(screens):
        where = f"$root/screens/{index}"
        if not isinstance(screen, dict):
            problems.append(_problem(text, "INVALID_PROPERTY_TYPE", f'"{where}" must be an object.'))
            continue
        screen_id = screen.get("id")
        if not isinstance(screen_id, str) or not _SCREEN_ID.match(screen_id):
            problems.append(
                _problem(
                    text,
                    "INVALID_SCREEN_ID",
                    f'The screen id at "{where}" must start with a letter and hold only letters, '
                    "digits and underscores.",
                )
            )
        elif screen_id == "SUCCESS":
            problems.append(
                _problem(
                    text,
                    "RESERVED_SCREEN_ID",
                    '"SUCCESS" is reserved and cannot be a screen id.',
                    '"SUCCESS"',
                )
            )
        elif screen_id in ids:
            problems.append(
                _problem(
                    text,
                    "DUPLICATE_SCREEN_ID",
                    f'The screen id "{screen_id}" is used twice.',
                    f'"{screen_id}"',
                )
            )
        else:
            ids.add(screen_id)
        layout = screen.get("layout")
        if not isinstance(layout, dict) or layout.get("type") != "SingleColumnLayout":
            problems.append(
                _problem(
                    text,
                    "INVALID_LAYOUT",
                    f'The screen at "{where}" needs a "layout" of type "SingleColumnLayout".',
                    f'"{screen_id}"' if isinstance(screen_id, str) else "",
                )
            )
        elif not isinstance(layout.get("children"), list):
            problems.append(
                _problem(text, "MISSING_REQUIRED_PROPERTY", f'"{where}/layout" needs a "children" array.')
            )
        terminal = terminal or screen.get("terminal") is True
    if not terminal:
        problems.append(
            _problem(
                text,
                "MISSING_TERMINAL_SCREEN",
                'At least one screen must have "terminal": true.',
                '"screens"',
            )
        )
    return ids


def _check_routing(text: str, routing: Any, ids: set[str], problems: list[dict[str, Any]]) -> None:
    if not isinstance(routing, dict):
        problems.append(
            _problem(text, "INVALID_PROPERTY_TYPE", '"routing_model" must be an object.', '"routing_model"')
        )
        return
    for source, targets in routing.items():
        named = [source, *(targets if isinstance(targets, list) else [])]
        for screen_id in named:
            if screen_id not in ids:
                problems.append(
                    _problem(
                        text,
                        "INVALID_ROUTING_MODEL",
                        f'The routing model names the screen "{screen_id}", which the Flow does not have.',
                        '"routing_model"',
                    )
                )
