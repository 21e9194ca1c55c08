"""Template message components in Meta's spec, read as Meta's template message reference has
them (in memory; the YAML stays unchanged). The v23.0 file knows header, body and button
components with text, currency, date_time and media parameters, and payload or text button
parameters. Meta also takes:

- a ``carousel`` component: ``cards``, each a ``card_index`` and its own header, body and
  button components;
- a ``location`` header parameter (``latitude``, ``longitude``, optional ``name``, ``address``);
- ``coupon_code`` (copy-code buttons) and ``action`` (flow, catalog and multi-product buttons)
  button parameters;
- ``parameter_name`` on a text parameter of a template whose ``parameter_format`` is NAMED.

Called by :func:`.spec_readings.as_meta_answers`; docs/sandbox.md lists these readings."""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/"


def _parameter(base: str, kind: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "allOf": [
            {"$ref": REF + base},
            {"type": "object", "required": [kind], "properties": {"type": {"enum": [kind]}, kind: value}},
        ]
    }


def read_template_components(schemas: dict[str, Any]) -> None:
    component = schemas["TemplateComponent"]
    component["properties"]["type"]["enum"].append("carousel")
    component["properties"]["cards"] = {
        "type": "array",
        "minItems": 1,
        "maxItems": 10,
        "items": {
            "type": "object",
            "required": ["card_index", "components"],
            "properties": {
                "card_index": {"type": ["integer", "string"]},
                "components": {"type": "array", "items": {"$ref": REF + "TemplateComponent"}},
            },
        },
    }
    component["discriminator"]["mapping"]["carousel"] = REF + "TemplateComponent"

    parameter = schemas["ParameterObject"]
    parameter["properties"]["type"]["enum"].append("location")
    parameter["properties"]["parameter_name"] = {"type": "string", "pattern": "^[a-z0-9_]+$"}
    parameter["discriminator"]["mapping"]["location"] = REF + "LocationParameter"
    schemas["LocationParameter"] = _parameter(
        "ParameterObject",
        "location",
        {
            "type": "object",
            "required": ["latitude", "longitude"],
            "properties": {
                "latitude": {"type": ["number", "string"]},
                "longitude": {"type": ["number", "string"]},
                "name": {"type": "string"},
                "address": {"type": "string"},
            },
        },
    )

    button = schemas["ButtonParameterObject"]
    button["properties"]["type"]["enum"] += ["coupon_code", "action"]
    button["discriminator"]["mapping"]["coupon_code"] = REF + "ButtonCouponCodeParameter"
    button["discriminator"]["mapping"]["action"] = REF + "ButtonActionParameter"
    schemas["ButtonCouponCodeParameter"] = _parameter(
        "ButtonParameterObject", "coupon_code", {"type": "string", "maxLength": 15}
    )
    schemas["ButtonActionParameter"] = _parameter(
        "ButtonParameterObject",
        "action",
        {
            "type": "object",
            "properties": {
                "flow_token": {"type": "string"},
                "flow_action_data": {"type": "object"},
                "thumbnail_product_retailer_id": {"type": "string"},
                "sections": {"type": "array", "items": {"type": "object"}},
            },
        },
    )
