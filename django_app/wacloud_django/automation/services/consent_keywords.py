"""STOP / START and their translations: an inbound text that is exactly a keyword (case,
accents, surrounding spaces and punctuation ignored) revokes or grants
``whatsapp_messaging`` and is answered with a confirmation (a service reply: the user
has just written). Inbound processing calls :func:`apply_consent_keyword` as soon as a
message is stored, before any other automation sees it."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from wacloud.errors import WacloudError

from ...conf import DerivedFromSetting, get_setting, setting_name
from ...exceptions import SettingError
from ...log_privacy import get_logger
from ...models import ConsentRecord, Contact, Message
from . import consent

logger = get_logger("wacloud.consent")

REVOKE, GRANT = "revoke", "grant"
#: The language whose confirmation is sent when the keyword's own has none.
FALLBACK_LANGUAGE = "en"

#: ``WACLOUD["CONSENT_KEYWORDS"]`` when unset: action -> language -> keywords.
DEFAULT_KEYWORDS: dict[str, dict[str, list[str]]] = {
    REVOKE: {
        "en": ["STOP", "CANCEL", "UNSUBSCRIBE", "STOP ALL", "OPT OUT"],
        "pt": ["PARAR", "SAIR", "CANCELAR", "DESCADASTRAR", "DESCADASTRAR-ME"],
        "es": ["BAJA", "DETENER", "CANCELAR SUSCRIPCIÓN", "DARME DE BAJA", "DESUSCRIBIR"],
    },
    GRANT: {
        "en": ["START", "SUBSCRIBE", "UNSTOP"],
        "pt": ["INICIAR", "ASSINAR", "CADASTRAR"],
        "es": ["ALTA", "SUSCRIBIR", "SUSCRIBIRME", "COMENZAR"],
    },
}

#: ``WACLOUD["CONSENT_CONFIRMATIONS"]`` when unset: action -> language -> reply (seed 003's).
DEFAULT_CONFIRMATIONS: dict[str, dict[str, str]] = {
    REVOKE: {
        "en": "You have been unsubscribed from our notifications. Reply START to subscribe again.",
        "pt": "Você foi descadastrado das nossas notificações. Responda INICIAR para voltar a recebê-las.",
        "es": "Has sido dado de baja de nuestras notificaciones. Responde ALTA para volver a suscribirte.",
    },
    GRANT: {
        "en": "Thank you for opting in to our notifications. Reply STOP anytime to opt out.",
        "pt": "Obrigado por aceitar nossas notificações. Responda PARAR a qualquer momento para sair.",
        "es": "Gracias por suscribirte a nuestras notificaciones. Responde BAJA cuando quieras para salir.",
    },
}

_STATUS = {REVOKE: ConsentRecord.Status.REVOKED, GRANT: ConsentRecord.Status.GRANTED}


def normalize(text: str) -> str:
    """``text`` as keywords are compared: accents dropped, case folded, inner spaces
    collapsed, surrounding spaces and punctuation (``"Stop!"``, ``"stop."``) removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    words = " ".join(plain.split())
    return words.strip(" .,;:!?¡¿'\"()[]*_~-")


def _configured(name: str, defaults: dict[str, Any]) -> dict[str, Any]:
    value = get_setting(name)
    if value is None:
        return defaults
    if not isinstance(value, Mapping) or not set(value) <= {REVOKE, GRANT}:
        raise SettingError(
            name, f'{setting_name(name)} must be a dict with the keys "revoke" and/or "grant", got {value!r}'
        )
    return dict(value)


def keywords() -> dict[str, dict[str, str]]:
    """``{action: {normalized keyword: language}}`` from ``WACLOUD["CONSENT_KEYWORDS"]``
    (read on every call, the table made again when it changes). An action may list
    keywords per language or as one list. Shared: not to be changed by the caller."""
    return _keyword_table(_configured("CONSENT_KEYWORDS", DEFAULT_KEYWORDS))


@DerivedFromSetting
def _keyword_table(configured: dict[str, Any]) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {REVOKE: {}, GRANT: {}}
    for action, value in configured.items():
        by_language = value if isinstance(value, Mapping) else {FALLBACK_LANGUAGE: value}
        for language, words in by_language.items():
            if not isinstance(words, (list, tuple)) or not all(isinstance(word, str) for word in words):
                raise SettingError(
                    "CONSENT_KEYWORDS",
                    f'{setting_name("CONSENT_KEYWORDS")}["{action}"]: each language takes a list of strings',
                )
            for word in words:
                table[action].setdefault(normalize(word), str(language))
    return table


def match_keyword(text: str) -> tuple[str, str] | None:
    """``(action, language)`` when the whole of ``text`` is a keyword, else ``None``.
    A word listed both to revoke and to grant revokes (the safe reading)."""
    normalized = normalize(text or "")
    if not normalized:
        return None
    table = keywords()
    for action in (REVOKE, GRANT):
        if normalized in table[action]:
            return action, table[action][normalized]
    return None


def confirmations() -> dict[str, dict[str, str]]:
    """``{action: {language: text}}`` from ``WACLOUD["CONSENT_CONFIRMATIONS"]`` (read on every
    call). An action may give one text (used whatever the keyword's language)."""
    table: dict[str, dict[str, str]] = {}
    for action, texts in _configured("CONSENT_CONFIRMATIONS", DEFAULT_CONFIRMATIONS).items():
        by_language = {FALLBACK_LANGUAGE: texts} if isinstance(texts, str) or texts is None else texts
        if not isinstance(by_language, Mapping) or not all(
            isinstance(text, str) or text is None for text in by_language.values()
        ):
            raise SettingError(
                "CONSENT_CONFIRMATIONS",
                f'{setting_name("CONSENT_CONFIRMATIONS")}["{action}"] must be a text or a dict of '
                f"language -> text, got {texts!r}",
            )
        table[action] = {str(language): text or "" for language, text in by_language.items()}
    return table


def confirmation_text(action: str, language: str) -> str:
    """The reply to a keyword: in its language, else in English; ``""``: none is sent."""
    texts = confirmations().get(action) or {}
    return texts.get(language) or texts.get(FALLBACK_LANGUAGE) or ""


def setting_problems() -> list[str]:
    """What is wrong with the consent settings (``manage.py check``, ``wacloud.E016``)."""
    problems = []
    for read in (keywords, confirmations):
        try:
            read()
        except SettingError as error:
            problems.append(str(error))
    if not isinstance(get_setting("MARKETING_REQUIRES_OPT_IN"), bool):
        problems.append(f"{setting_name('MARKETING_REQUIRES_OPT_IN')} must be True or False")
    return problems


def apply_consent_keyword(message: Message, contact: Contact) -> ConsentRecord | None:
    """Record the consent an inbound text keyword gives or withdraws, and confirm it.
    The confirmation is best effort: a reply that cannot go (an account without a token,
    a keyword that arrived after its window) leaves the consent recorded all the same."""
    if message.type != "text":
        return None
    matched = match_keyword(message.text)
    if matched is None:
        return None
    action, language = matched
    record = consent.record_consent(
        contact,
        ConsentRecord.Purpose.WHATSAPP_MESSAGING,
        _STATUS[action],
        source=ConsentRecord.Source.KEYWORD,
        text=message.text,
        message=message,
        occurred_at=message.timestamp,
    )
    current = consent.latest_record(contact, ConsentRecord.Purpose.WHATSAPP_MESSAGING)
    text = confirmation_text(action, language)
    # A keyword older than the current record (delivered late) changed nothing: say nothing.
    if text and current is not None and current.pk == record.pk:
        _confirm(contact, text)
    return record


def _confirm(contact: Contact, text: str) -> None:
    from ...services.contact_identity import recipient_of
    from ...services.outbound import send_message

    try:
        send_message(
            contact.account, recipient_of(contact), "text", text, purpose=consent.KEYWORD_CONFIRMATION,
            reference="consent-confirmation",
        )  # fmt: skip
    except (WacloudError, ValueError) as error:
        logger.warning("consent confirmation to contact %s not sent: %s", contact.pk, error)
