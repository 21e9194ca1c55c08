"""The Templates page's create form: a thin door into services.templates.create_template,
the service the REST API's ``POST templates`` calls, with the same role (``manage_templates``)."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from wacloud.errors import WacloudError

from ..models import BusinessAccount
from ..services import inbox
from ..services.templates import create_template
from ..services.tenancy import scoped
from .access import member_view, page
from .template_forms import BUTTON_ROWS, COMMON_LANGUAGES, TemplateDraftForm


@require_http_methods(["GET", "POST"])
@member_view("manage_templates")
def template_create(request: HttpRequest) -> HttpResponse:
    """GET: the form (with ``?body=...`` as typed so far, htmx refreshes its example fields
    and preview); POST: submit to Meta, then the new template's page."""
    accounts = scoped(BusinessAccount.objects.filter(archived_at=None), request.organization)
    accounts = accounts.exclude(waba_id="").order_by("name", "pk")
    if request.method == "POST":
        form = TemplateDraftForm(request.POST, accounts=accounts)
        if form.is_valid():
            data = form.cleaned_data
            try:
                template = create_template(
                    data["account"], data["name"], data["language"], data["category"], form.components()
                )
            except WacloudError as refused:
                form.add_refusal(refused)
            else:
                flash.success(
                    request,
                    f"Template {template.name} ({template.language}) sent to Meta: {template.status}.",
                )
                return redirect("wacloud_inbox:template", pk=template.pk)
    else:
        form = TemplateDraftForm(initial=request.GET.dict(), accounts=accounts)
    context = {
        "form": form,
        "languages": COMMON_LANGUAGES,
        "preview": _preview(form),
        "has_accounts": accounts.exists(),
    }
    return page(request, "wacloud/inbox/template_form.html", context)


def _preview(form: TemplateDraftForm) -> dict[str, object]:
    """The texts filled with the example values typed so far (a blank keeps ``{{n}}``)."""
    source = form.data if form.is_bound else form.initial
    typed = {key: str(value) for key, value in source.items()}
    values = [typed.get(f"example_{n}", "") for n in range(1, max(form.body_variables, default=0) + 1)]
    buttons = [typed.get(f"button_text_{row}", "") for row in range(1, BUTTON_ROWS + 1)]
    return {
        "header": inbox.fill(typed.get("header", ""), [typed.get("header_example", "")]),
        "body": inbox.fill(typed.get("body", ""), values),
        "footer": typed.get("footer", ""),
        "buttons": [text for row, text in enumerate(buttons, 1) if text and typed.get(f"button_type_{row}")],
    }
