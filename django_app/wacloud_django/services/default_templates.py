"""The default templates a service desk needs (seed 004), in English and Brazilian
Portuguese, registered at Meta once per account and language."""

from __future__ import annotations

from typing import Any

from wacloud.errors import GraphAPIError

from ..models import BusinessAccount, Template
from .templates import create_template


def _body(text: str, *examples: str) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "BODY", "text": text}
    if examples:
        component["example"] = {"body_text": [list(examples)]}
    return component


#: name -> language -> (body text, example values). Meta requires an example per variable, and
#: refuses a body that starts or ends with one (subcode 2388299).
DEFAULT_TEMPLATES: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "ticket_created": {
        "en_US": (
            "Hello {{1}}! Your ticket #{{2}} was created. We will get back to you soon.",
            ("Maria", "1234"),
        ),
        "pt_BR": (
            "Olá {{1}}! Seu chamado #{{2}} foi criado com sucesso. Em breve retornaremos.",
            ("Maria", "1234"),
        ),
    },
    "ticket_updated": {
        "en_US": ("Hello {{1}}, your ticket #{{2}} was updated: {{3}}.", ("Maria", "1234", "in progress")),
        "pt_BR": ("Olá {{1}}, seu chamado #{{2}} foi atualizado: {{3}}.", ("Maria", "1234", "em andamento")),
    },
    "ticket_assigned": {
        "en_US": ("Hello {{1}}, {{2}} is now handling your ticket #{{3}}.", ("Maria", "João", "1234")),
        "pt_BR": ("Olá {{1}}, {{2}} agora está cuidando do seu chamado #{{3}}.", ("Maria", "João", "1234")),
    },
    "ticket_resolved": {
        "en_US": (
            "Hello {{1}}, your ticket #{{2}} was resolved. Reply if you need anything else.",
            ("Maria", "1234"),
        ),
        "pt_BR": (
            "Olá {{1}}, seu chamado #{{2}} foi resolvido. Responda se precisar de algo mais.",
            ("Maria", "1234"),
        ),
    },
    "agent_response": {
        "en_US": (
            "New reply on your ticket #{{1}}: {{2}} Reply here to answer.",
            ("1234", "We have shipped it."),
        ),
        "pt_BR": ("Nova resposta no seu chamado #{{1}}: {{2}} Responda aqui.", ("1234", "Enviamos a peça.")),
    },
    "sla_warning": {
        "en_US": ("Ticket #{{1}} is due at {{2}}: we are on it.", ("1234", "15:00")),
        "pt_BR": ("O chamado #{{1}} vence às {{2}}: estamos trabalhando nele.", ("1234", "15:00")),
    },
}
DEFAULT_LANGUAGES = ("en_US", "pt_BR")


def register_default_templates(
    account: BusinessAccount, languages: tuple[str, ...] = DEFAULT_LANGUAGES
) -> dict[str, list[dict[str, Any]]]:
    """Submit each default template in each language unless the account's WABA already has
    it (any status but DELETED). Returns ``{"created": [...], "skipped": [...], "failed": [...]}``;
    one template Meta refuses does not stop the others."""
    result: dict[str, list[dict[str, Any]]] = {"created": [], "skipped": [], "failed": []}
    existing = set(
        Template.objects.filter(waba_id=account.waba_id)
        .exclude(status=Template.Status.DELETED)
        .values_list("name", "language")
    )
    for name, texts in DEFAULT_TEMPLATES.items():
        for language in languages:
            if language not in texts:
                result["failed"].append(
                    {"name": name, "language": language, "error": "no text in this language"}
                )
                continue
            if (name, language) in existing:
                result["skipped"].append({"name": name, "language": language})
                continue
            text, examples = texts[language]
            try:
                template = create_template(account, name, language, "UTILITY", [_body(text, *examples)])
            except GraphAPIError as error:
                result["failed"].append(
                    {"name": name, "language": language, "error": str(error), "code": error.code}
                )
                continue
            result["created"].append({"name": name, "language": language, "status": template.status})
    return result
