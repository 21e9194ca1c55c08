"""``WACLOUD["CONFIRMATIONS"]`` read on every call (never cached), the reply words that
answer a confirmation (Y/N/CANCEL and their translations), the texts of the question and
the ids its reply buttons carry. The service that acts on them is ``confirmations``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...conf import DEFAULTS, DerivedFromSetting, get_setting, setting_name
from ...exceptions import SettingError
from .consent_keywords import normalize

CONFIRMED, DECLINED, CANCELLED = "confirmed", "declined", "cancelled"
#: A word listed for several outcomes means the first of these (the safe reading).
OUTCOMES = (CANCELLED, DECLINED, CONFIRMED)
FALLBACK_LANGUAGE = "en"

#: ``WACLOUD["CONFIRMATIONS"]["REPLIES"]`` when unset: outcome -> language -> words. A whole
#: message equal to one of them answers (case, accents and punctuation ignored).
DEFAULT_REPLIES: dict[str, dict[str, list[str]]] = {
    CONFIRMED: {
        "en": ["Y", "YES", "CONFIRM"],
        "pt": ["S", "SIM", "CONFIRMAR", "CONFIRMO"],
        "es": ["SI", "SÍ", "CONFIRMAR"],
    },
    DECLINED: {
        "en": ["N", "NO", "DECLINE"],
        "pt": ["NÃO", "NAO", "RECUSAR"],
        "es": ["NO", "RECHAZAR"],
    },
    # Also opts the contact out (seed 003: "CANCEL to stop"), as STOP does anywhere.
    CANCELLED: {
        "en": ["CANCEL", "STOP"],
        "pt": ["CANCELAR", "PARAR"],
        "es": ["CANCELAR", "BAJA"],
    },
}

#: ``WACLOUD["CONFIRMATIONS"]["TEXTS"]`` when unset (keys merged over these): the question
#: sent inside the 24-hour window, with ``{description}``, ``{details}`` filled in.
DEFAULT_TEXTS: dict[str, str] = {
    "body": "Please confirm: {description}",
    "details": "{details}",
    "footer": "CANCEL stops these messages",
    "button.confirmed": "Yes",
    "button.declined": "No",
    "button.cancelled": "Cancel",
    # The template's contact_name parameter for a contact whose name is unknown.
    "contact_name": "there",
    # The template's details parameter when none were given (Meta refuses an empty one).
    "no_details": "-",
}

#: What the template's body parameters may name, in the order the template takes them.
TEMPLATE_FIELDS = ("contact_name", "description", "details", "action_type")

_BUTTON_ID = re.compile(r"^wacloud-confirmation:(\d+):(confirmed|declined|cancelled)$")


def config() -> dict[str, Any]:
    """``WACLOUD["CONFIRMATIONS"]`` merged over its defaults, checked."""
    value = get_setting("CONFIRMATIONS")
    if not isinstance(value, Mapping):
        raise SettingError(
            "CONFIRMATIONS", f"{setting_name('CONFIRMATIONS')} must be a dict, got {type(value).__name__}"
        )
    unknown = sorted(set(value) - set(DEFAULTS["CONFIRMATIONS"]))
    if unknown:
        raise SettingError("CONFIRMATIONS", f"{setting_name('CONFIRMATIONS', unknown[0])} is not a known key")
    merged = {**DEFAULTS["CONFIRMATIONS"], **value}
    for key in ("DEFAULT_TIMEOUT_MINUTES", "MAX_TIMEOUT_MINUTES"):
        if not isinstance(merged[key], int) or isinstance(merged[key], bool) or merged[key] < 1:
            raise SettingError(
                "CONFIRMATIONS",
                f"{setting_name('CONFIRMATIONS', key)} must be a whole number of minutes (>= 1), "
                f"got {merged[key]!r}",
            )
    parameters = merged["TEMPLATE_PARAMETERS"]
    if not isinstance(parameters, (list, tuple)) or not set(parameters) <= set(TEMPLATE_FIELDS):
        raise SettingError(
            "CONFIRMATIONS",
            f"{setting_name('CONFIRMATIONS', 'TEMPLATE_PARAMETERS')} must list some of "
            f"{', '.join(TEMPLATE_FIELDS)}, got {parameters!r}",
        )
    if not isinstance(merged["ONE_PENDING_PER_CONTACT"], bool):
        raise SettingError(
            "CONFIRMATIONS",
            f"{setting_name('CONFIRMATIONS', 'ONE_PENDING_PER_CONTACT')} must be True or False",
        )
    for key in ("TEMPLATE_NAME", "TEMPLATE_LANGUAGE"):
        if not isinstance(merged[key], str) or not merged[key]:
            raise SettingError("CONFIRMATIONS", f"{setting_name('CONFIRMATIONS', key)} must be a name")
    return merged


def replies() -> dict[str, dict[str, str]]:
    """``{outcome: {normalized word: language}}``. An outcome may list words per language
    or as one list; an outcome left out has no words (only its button answers it).
    Shared: not to be changed by the caller."""
    configured = config()["REPLIES"]
    return _reply_table(DEFAULT_REPLIES if configured is None else configured)


@DerivedFromSetting
def _reply_table(source: Any) -> dict[str, dict[str, str]]:
    name = setting_name("CONFIRMATIONS", "REPLIES")
    if not isinstance(source, Mapping) or not set(source) <= set(OUTCOMES):
        raise SettingError("CONFIRMATIONS", f"{name} must be a dict with keys among {', '.join(OUTCOMES)}")
    table: dict[str, dict[str, str]] = {outcome: {} for outcome in OUTCOMES}
    for outcome, value in source.items():
        by_language = value if isinstance(value, Mapping) else {FALLBACK_LANGUAGE: value}
        for language, words in by_language.items():
            if not isinstance(words, (list, tuple)) or not all(isinstance(word, str) for word in words):
                raise SettingError(
                    "CONFIRMATIONS", f'{name}["{outcome}"]: each language takes a list of words'
                )
            for word in words:
                table[outcome].setdefault(normalize(word), str(language))
    return table


def match_reply(text: str) -> tuple[str, str] | None:
    """``(outcome, language)`` when the whole of ``text`` is a reply word, else ``None``."""
    normalized = normalize(text or "")
    if not normalized:
        return None
    table = replies()
    for outcome in OUTCOMES:
        if normalized in table[outcome]:
            return outcome, table[outcome][normalized]
    return None


def texts() -> dict[str, str]:
    configured = config()["TEXTS"] or {}
    if not isinstance(configured, Mapping) or not all(isinstance(text, str) for text in configured.values()):
        raise SettingError(
            "CONFIRMATIONS", f"{setting_name('CONFIRMATIONS', 'TEXTS')} must be a dict of key -> text"
        )
    return {**DEFAULT_TEXTS, **configured}


def button_id(confirmation_id: int, outcome: str) -> str:
    """The reply button id that answers confirmation ``confirmation_id`` with ``outcome``."""
    return f"wacloud-confirmation:{confirmation_id}:{outcome}"


def parse_button_id(value: str | None) -> tuple[int, str] | None:
    """``(confirmation id, outcome)`` for one of our button ids, else ``None``."""
    found = _BUTTON_ID.match(value or "")
    return (int(found.group(1)), found.group(2)) if found else None


def setting_problems() -> list[str]:
    """What is wrong with ``WACLOUD["CONFIRMATIONS"]`` (for a system check)."""
    problems = []
    for read in (config, replies, texts):
        try:
            read()
        except SettingError as error:
            problems.append(str(error))
    return problems
