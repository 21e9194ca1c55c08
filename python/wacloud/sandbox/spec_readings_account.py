"""Onboarding and number management in Meta's spec, read as Meta answers (in memory, the YAML
unchanged):

- ``POST /<PHONE_NUMBER_ID>/message_qrdls`` takes a new code's fields or an update's
  (``code`` and ``prefilled_message``); the spec's ``oneOf`` of the two refuses every update,
  which the create branch (open to more properties) matches too: either will do.

Called by :func:`.spec_readings.as_meta_answers`; docs/sandbox.md lists these readings."""

from __future__ import annotations

from typing import Any


def read_account(spec: dict[str, Any]) -> None:
    qr = spec["paths"]["/{Version}/{Phone-Number-ID}/message_qrdls"]["post"]
    schema = qr["requestBody"]["content"]["application/json"]["schema"]
    schema["anyOf"] = schema.pop("oneOf")
