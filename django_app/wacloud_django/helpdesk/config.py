"""``WACLOUD["HELPDESK"]`` read on every call (never cached): whether the help desk is on,
its commands and their aliases, the replies in each language, the session timeout, SLAs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from ..conf import DEFAULTS, get_setting, setting_name
from ..exceptions import SettingError

HELP, STATUS, NEW, CANCEL = "help", "status", "new", "cancel"
#: The language whose texts fill in what another language leaves out.
FALLBACK_LANGUAGE = "en"

#: ``WACLOUD["HELPDESK"]["COMMANDS"]`` when unset: command -> the words that call it (seed 004's
#: Portuguese aliases included). Compared without case.
DEFAULT_COMMANDS: dict[str, list[str]] = {
    HELP: ["/help", "/ajuda"],
    STATUS: ["/status"],
    NEW: ["/new", "/novo"],
    CANCEL: ["/cancel", "/cancelar"],
}

#: ``WACLOUD["HELPDESK"]["TEXTS"]`` when unset: language -> key -> text. ``{number}``,
#: ``{status}`` and ``{commands}`` are filled in.
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "created": "✅ Ticket #{number} created successfully!\n"
        "We received your request and our team will answer soon.",
        "help": "Available commands:\n{commands}",
        "help_line.help": "{word} - show the available commands",
        "help_line.status": "{word} - check your ticket's status",
        "help_line.new": "{word} - start a new ticket",
        "help_line.cancel": "{word} - cancel the current conversation",
        "status": "Ticket #{number}: {status}",
        "no_ticket": "You have no open ticket. Send a message to open one.",
        "new": "Your next message will open a new ticket.",
        "cancelled": "Conversation cancelled. Ticket #{number} was closed.",
        "nothing_to_cancel": "There is no conversation to cancel.",
        "status.open": "open",
        "status.pending": "pending",
        "status.resolved": "resolved",
        "status.closed": "closed",
        "sla_warning": "Ticket #{number} is due at {due}: we are on it.",
        "updated": "Your ticket #{number} was updated: {status}.",
        "assigned": "{agent} is now handling your ticket #{number}.",
        "resolved": "Your ticket #{number} was resolved. Reply if you need anything else.",
    },
    "pt": {
        "created": "✅ Chamado #{number} criado com sucesso!\n"
        "Recebemos sua solicitação e nossa equipe responderá em breve.",
        "help": "Comandos disponíveis:\n{commands}",
        "help_line.help": "{word} - mostrar os comandos disponíveis",
        "help_line.status": "{word} - ver o status do chamado",
        "help_line.new": "{word} - abrir um novo chamado",
        "help_line.cancel": "{word} - cancelar a conversa atual",
        "status": "Chamado #{number}: {status}",
        "no_ticket": "Você não tem chamado aberto. Envie uma mensagem para abrir um.",
        "new": "Sua próxima mensagem abrirá um novo chamado.",
        "cancelled": "Conversa cancelada. O chamado #{number} foi fechado.",
        "nothing_to_cancel": "Não há conversa para cancelar.",
        "status.open": "aberto",
        "status.pending": "pendente",
        "status.resolved": "resolvido",
        "status.closed": "fechado",
        "sla_warning": "O chamado #{number} vence às {due}: estamos trabalhando nele.",
        "updated": "Seu chamado #{number} foi atualizado: {status}.",
        "assigned": "{agent} agora está cuidando do seu chamado #{number}.",
        "resolved": "Seu chamado #{number} foi resolvido. Responda se precisar de algo mais.",
    },
}


def helpdesk_settings() -> dict[str, Any]:
    """``WACLOUD["HELPDESK"]`` merged key by key over its defaults (``conf.DEFAULTS``)."""
    configured = get_setting("HELPDESK") or {}
    if not isinstance(configured, Mapping):
        raise SettingError("HELPDESK", f"{setting_name('HELPDESK')} must be a dict, got {configured!r}")
    return {**DEFAULTS["HELPDESK"], **configured}


def enabled() -> bool:
    return bool(helpdesk_settings().get("ENABLED"))


def _name(key: str) -> str:
    return setting_name("HELPDESK", key)


def language() -> str:
    value = helpdesk_settings().get("LANGUAGE") or FALLBACK_LANGUAGE
    if not isinstance(value, str):
        raise SettingError("HELPDESK", f"{_name('LANGUAGE')} must be a language code like 'en' or 'pt'")
    return value


def session_timeout() -> timedelta:
    hours = helpdesk_settings().get("SESSION_TIMEOUT_HOURS")
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
        raise SettingError(
            "HELPDESK", f"{_name('SESSION_TIMEOUT_HOURS')} must be a positive number, got {hours!r}"
        )
    return timedelta(hours=hours)


def sla_for(priority: str) -> timedelta | None:
    """How long a ticket of ``priority`` may wait (``None``: no SLA for it)."""
    table = helpdesk_settings().get("SLA_HOURS") or {}
    if not isinstance(table, Mapping):
        raise SettingError("HELPDESK", f"{_name('SLA_HOURS')} must be a dict of priority -> hours")
    hours = table.get(priority)
    return timedelta(hours=hours) if hours else None


def commands() -> dict[str, list[str]]:
    """``{command: [words]}``: the defaults, with ``COMMANDS`` replacing the words it names."""
    configured = helpdesk_settings().get("COMMANDS") or {}
    if not isinstance(configured, Mapping) or not set(configured) <= set(DEFAULT_COMMANDS):
        raise SettingError(
            "HELPDESK", f"{_name('COMMANDS')} must be a dict with keys among {sorted(DEFAULT_COMMANDS)}"
        )
    table = {**DEFAULT_COMMANDS, **configured}
    for command, words in table.items():
        if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) and w for w in words):
            raise SettingError("HELPDESK", f'{_name("COMMANDS")}["{command}"] must be a list of words')
    return {command: list(words) for command, words in table.items()}


def match_command(text: str) -> str | None:
    """The command ``text`` calls; ``"unknown"`` for another ``/word``; ``None``: not a command."""
    word = (text or "").strip().split(maxsplit=1)[0].casefold() if (text or "").strip() else ""
    if not word.startswith("/"):
        return None
    for command, words in commands().items():
        if word in {w.casefold() for w in words}:
            return command
    return "unknown"


def text(key: str, **values: Any) -> str:
    """The reply ``key`` in the configured language (else English), with ``values`` filled in.
    ``TEXTS`` overrides any key of any language."""
    configured = helpdesk_settings().get("TEXTS") or {}
    if not isinstance(configured, Mapping):
        raise SettingError("HELPDESK", f"{_name('TEXTS')} must be a dict of language -> key -> text")
    chosen = language()
    for lang in (chosen, FALLBACK_LANGUAGE):
        for table in (configured.get(lang) or {}, DEFAULT_TEXTS.get(lang) or {}):
            if key in table:
                return str(table[key]).format(**values)
    raise KeyError(key)


def help_text() -> str:
    """The list of commands, each with the word it is called by in the configured language
    (the last alias: seed 004's Portuguese words come after the English ones)."""
    table = commands()
    lines = []
    for command in (HELP, STATUS, NEW, CANCEL):
        words = table[command]
        word = words[-1] if language() != FALLBACK_LANGUAGE else words[0]
        lines.append(text(f"help_line.{command}", word=word))
    return text("help", commands="\n".join(lines))


def status_name(status: str) -> str:
    try:
        return text(f"status.{status}")
    except KeyError:
        return status


def setting_problems() -> list[str]:
    """What is wrong with ``WACLOUD["HELPDESK"]`` (for ``manage.py check``)."""
    from .backends import get_backend

    problems = []
    from .services.sessions import store

    for read in (helpdesk_settings, language, session_timeout, commands, help_text, get_backend, store):
        try:
            read()
        except (SettingError, KeyError, ValueError, IndexError) as error:
            problems.append(str(error))
    try:  # a backend may check its own settings (without touching the database)
        problems += list(getattr(get_backend(), "setting_problems", list)())
    except SettingError:
        pass  # reported above
    return problems
