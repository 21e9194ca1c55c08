"""The inbox's other pages: templates, integrations and analytics. Thin doors into
services.templates, default_templates, integrations and reports, with the API's roles."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from django import forms
from wacloud.errors import WacloudError

from ..models import BusinessAccount, Template
from ..services import inbox, reports
from ..services.default_templates import register_default_templates
from ..services.integrations import (
    IntegrationConflict,
    create_integration,
    test_integration,
    toggle_integration,
    update_integration,
    webhook_url,
)
from ..services.templates import sync_templates
from ..services.tenancy import scoped
from . import charts
from .access import may, member_view, page, scoped_or_404

MAX_DAYS = 366
#: The account fields the integration form shows filled in (secrets never are).
EDITED = ("name", "display_phone_number", "phone_number_id", "waba_id", "app_id")


def _accounts(request: HttpRequest):
    return scoped(BusinessAccount.objects.filter(archived_at=None), request.organization).order_by(
        "name", "pk"
    )


# -- templates -----------------------------------------------------------------------------------


@require_GET
@member_view("read")
def template_list(request: HttpRequest) -> HttpResponse:
    rows = scoped(Template.objects.all(), request.organization).order_by("name", "language")
    status = request.GET.get("status", "").upper()
    if status:
        rows = rows.filter(status__iexact=status)
    context = {
        "templates": rows,
        "status": status,
        "statuses": [value for value in Template.Status.values if value],
        "accounts": _accounts(request),
        "can_manage": may(request, "manage_templates"),
    }
    return page(request, "wacloud/inbox/templates.html", context)


@require_GET
@member_view("read")
def template_detail(request: HttpRequest, pk: int) -> HttpResponse:
    template = scoped_or_404(request, Template.objects.all(), pk=pk)
    values = [request.GET.get(f"value_{n}", "") for n in range(1, 11)]
    preview = inbox.template_preview(template, values if any(values) else None)
    return page(request, "wacloud/inbox/template_detail.html", {"template": template, "preview": preview})


def _chosen_account(request: HttpRequest) -> BusinessAccount:
    raw = request.POST.get("account", "")
    return scoped_or_404(request, BusinessAccount.objects.all(), pk=int(raw) if raw.isdigit() else 0)


@require_POST
@member_view("manage_templates")
def template_sync(request: HttpRequest) -> HttpResponse:
    account = _chosen_account(request)
    try:
        counts = sync_templates(account)
    except WacloudError as error:
        flash.error(request, f"Sync failed for {account}: {error}")
    else:
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        flash.success(request, f"Synced {account}: {summary}.")
    return redirect("wacloud_inbox:templates")


def _register(request: HttpRequest, account: BusinessAccount) -> None:
    try:
        result = register_default_templates(account)
    except WacloudError as error:
        flash.error(request, f"Registering the default templates failed: {error}")
        return
    created, skipped, failed = (len(result[key]) for key in ("created", "skipped", "failed"))
    text = f"Default templates for {account}: {created} created, {skipped} already there, {failed} failed."
    (flash.warning if failed else flash.success)(request, text)
    for item in result["failed"]:
        flash.error(request, f"{item['name']} ({item['language']}): {item['error']}")


@require_POST
@member_view("manage_templates")
def template_register(request: HttpRequest) -> HttpResponse:
    _register(request, _chosen_account(request))
    return redirect("wacloud_inbox:templates")


# -- integrations --------------------------------------------------------------------------------


class IntegrationForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    display_phone_number = forms.CharField(
        label="Phone number", max_length=32, required=False, help_text="As people dial it, with country code."
    )
    phone_number_id = forms.RegexField(label="Phone number ID", regex=r"^\d{1,64}$", max_length=64)
    waba_id = forms.RegexField(
        label="WhatsApp Business Account ID", regex=r"^\d{1,64}$", max_length=64, required=False
    )
    app_id = forms.CharField(label="App ID", max_length=64, required=False)
    access_token = forms.CharField(
        widget=forms.PasswordInput, required=False, help_text="Empty: keep the stored one."
    )
    app_secret = forms.CharField(
        widget=forms.PasswordInput, required=False, help_text="Empty: keep the stored one."
    )
    verify_token = forms.CharField(required=False, help_text="Empty: generated (new) or kept (edit).")

    def __init__(self, *args, creating: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            self.fields["access_token"].required = True
            self.fields["access_token"].help_text = "A System User token with whatsapp_business_messaging."


@require_GET
@member_view("manage_integrations")
def integration_list(request: HttpRequest) -> HttpResponse:
    accounts = [(account, webhook_url(account, request)) for account in _accounts(request)]
    return page(request, "wacloud/inbox/integrations.html", {"accounts": accounts})


@require_http_methods(["GET", "POST"])
@member_view("manage_integrations")
def integration_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    account = scoped_or_404(request, BusinessAccount.objects.all(), pk=pk) if pk is not None else None
    initial = {}
    if account is not None:
        initial = {name: getattr(account, name) for name in EDITED}
    form = IntegrationForm(request.POST or None, initial=initial, creating=account is None)
    if request.method == "POST" and form.is_valid():
        data = {key: value for key, value in form.cleaned_data.items() if value != "" or key == "name"}
        try:
            if account is None:
                account, _ = create_integration(request.organization, data)
                flash.success(request, f"Added {account}. Paste its webhook URL and verify token into Meta.")
            else:
                update_integration(account, data)
                flash.success(request, f"Saved {account}.")
        except IntegrationConflict as conflict:
            form.add_error("phone_number_id", str(conflict))
        else:
            return redirect("wacloud_inbox:integrations")
    return page(request, "wacloud/inbox/integration_form.html", {"form": form, "account": account})


def _integration(request: HttpRequest, pk: int) -> BusinessAccount:
    return scoped_or_404(request, BusinessAccount.objects.all(), pk=pk)


@require_POST
@member_view("manage_integrations")
def integration_test(request: HttpRequest, pk: int) -> HttpResponse:
    account = _integration(request, pk)
    result = test_integration(account)
    if result["ok"]:
        number = result.get("display_phone_number") or account.display_phone_number
        flash.success(request, f"Connection to {account} works ({number}).")
    else:
        flash.error(request, f"Connection to {account} failed: {result['error_type']}: {result['error']}")
    return redirect("wacloud_inbox:integrations")


@require_POST
@member_view("manage_integrations")
def integration_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    account = toggle_integration(_integration(request, pk))
    flash.success(request, f"{account} is now {'active' if account.is_active else 'inactive'}.")
    return redirect("wacloud_inbox:integrations")


@require_POST
@member_view("manage_integrations")
def integration_register(request: HttpRequest, pk: int) -> HttpResponse:
    _register(request, _integration(request, pk))
    return redirect("wacloud_inbox:integrations")


# -- analytics -----------------------------------------------------------------------------------


def _day(raw: str, fallback: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else fallback
    except ValueError:
        return fallback


@cache
def time_zones() -> list[str]:
    return sorted(available_timezones() - {"localtime", "Factory"})


@require_GET
@member_view("read")
def analytics(request: HttpRequest) -> HttpResponse:
    """One account or all, local days of a time zone (``?account=<id>&tz=<IANA name>``), the
    same choices as the API's ``analytics``."""
    errors = []
    tz = request.GET.get("tz", "").strip() or timezone.get_current_timezone_name()
    if tz not in time_zones():
        errors.append(f"Unknown time zone {tz[:64]!r}: choose one from the list.")
        tz = "UTC"
    raw_account = request.GET.get("account", "")
    account = None
    if raw_account:  # another organization's account looks like none at all
        found = _accounts(request).filter(pk=int(raw_account)) if raw_account.isdecimal() else None
        account = found.first() if found is not None else None
        if account is None:
            errors.append("No such account here: showing all accounts.")
    today = timezone.now().astimezone(ZoneInfo(tz)).date()
    end = _day(request.GET.get("end", ""), today)
    start = _day(request.GET.get("start", ""), end - timedelta(days=13))
    if start > end or (end - start).days > MAX_DAYS:
        errors.append(f"The start must be on or before the end, at most {MAX_DAYS} days before it.")
        start, end = end - timedelta(days=13), end
    figures = reports.analytics(request.organization, start, end, tz, account=account)
    volume = inbox.daily_volume(request.organization, start, end, tz, account)
    context = {
        "start": start,
        "end": end,
        "error": " ".join(errors),
        "tz": tz,
        "time_zones": time_zones(),
        "account": account,
        "accounts": _accounts(request),
        "figures": figures,
        "volume_chart": charts.grouped_bars(
            [row["day"].strftime("%b %d") for row in volume],
            {"Inbound": [row["inbound"] for row in volume], "Outbound": [row["outbound"] for row in volume]},
            title="Messages per day",
        ),
        "funnel_chart": charts.funnel(inbox.delivery_funnel(figures), title="Delivery and read funnel"),
        "response_chart": charts.horizontal_bars(
            inbox.response_time_bars(figures), unit="min", title="Response times (minutes)"
        ),
        "growth_chart": charts.grouped_bars(
            [str(row.get("date") or row.get("day") or "")[5:] for row in figures["contacts"]["new_per_day"]],
            {"New contacts": [row.get("count", 0) for row in figures["contacts"]["new_per_day"]]},
            title="New contacts per day",
        ),
        "template_chart": charts.grouped_bars(
            [row["name"] for row in figures["templates"]["sends"][:10]],
            {
                "Sent": [row["sent"] for row in figures["templates"]["sends"][:10]],
                "Read": [row["read"] for row in figures["templates"]["sends"][:10]],
            },
            title="Template performance",
        ),
    }
    return page(request, "wacloud/inbox/analytics.html", context)
