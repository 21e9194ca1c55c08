"""The inbox's conversation pages: the list, the chat, the composer's doors and media.
Thin doors: every read and write goes through services (inbox, outbound, conversations)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from wacloud.errors import WacloudError

from ..conf import use_celery
from ..helpdesk.services.tickets import record_agent_reply
from ..log_privacy import get_logger
from ..models import BusinessAccount, Conversation, MediaFile, Message, Template
from ..services import inbox
from ..services.assignment import (
    AssignmentRefused,
    assign_conversation,
    assignable_members,
    current_assignee,
    not_assignable,
)
from ..services.contact_identity import recipient_of
from ..services.conversations import mark_conversation_read
from ..services.media import download_media_file
from ..services.outbound import send_message
from ..services.tenancy import scoped
from .access import may, member_view, page, require, scoped_or_404

logger = get_logger("wacloud.inbox")

MEDIA_TYPES = ("image", "video", "audio", "document")


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@require_GET
@member_view("read")
def conversation_list(request: HttpRequest) -> HttpResponse:
    chosen = inbox.ConversationFilter.from_query(request.GET)
    rows = inbox.conversations(request.organization, request.user, chosen)
    listed = Paginator(rows, 50).get_page(request.GET.get("page"))
    inbox.attach_last_messages(listed.object_list)
    context = {
        "page": listed,
        "chosen": chosen,
        "accounts": scoped(BusinessAccount.objects.filter(archived_at=None), request.organization),
        "query": request.GET.urlencode(),
    }
    if _is_htmx(request):
        return page(request, "wacloud/inbox/_conversation_rows.html", context)
    return page(request, "wacloud/inbox/conversations.html", context)


def _conversation(request: HttpRequest, pk: int) -> Conversation:
    rows = Conversation.objects.select_related("account", "contact", "assignee")
    return scoped_or_404(request, rows, pk=pk)


def _chat_context(request: HttpRequest, conversation: Conversation, **extra: Any) -> dict[str, Any]:
    left = inbox.window_left(conversation)
    templates = inbox.sendable_templates(request.organization, conversation.account)
    chosen = None
    if request.GET.get("template"):
        chosen = (
            templates.filter(pk=request.GET["template"]).first()
            if request.GET["template"].isdigit()
            else None
        )
    return {
        "conversation": conversation,
        "thread_messages": inbox.thread(conversation),  # not "messages": Django's flash messages
        "panel": inbox.contact_panel(conversation),
        "window_left": left,
        "can_reply": may(request, "reply"),
        "can_send_template": may(request, "send_template"),
        "templates": templates,
        "template": chosen,
        "preview": inbox.template_preview(chosen) if chosen else None,
        "quick_replies": inbox.quick_replies(),
        "can_assign": may(request, "reply"),
        "assigned": current_assignee(conversation),
        "assignees": assignable_members(request.organization) if may(request, "reply") else [],
        **extra,
    }


@require_GET
@member_view("read")
def chat(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    receipt = None
    if conversation.unread_count and may(request, "reply"):
        # Opening the chat reads it: Meta's read receipt (blue ticks) through the same service as the API.
        receipt = mark_conversation_read(conversation)["receipt"]
        conversation.unread_count = 0
    return page(request, "wacloud/inbox/chat.html", _chat_context(request, conversation, receipt=receipt))


@require_GET
@member_view("read")
def thread(request: HttpRequest, pk: int) -> HttpResponse:
    """The thread alone, polled by the chat page (statuses and new messages without reload)."""
    conversation = _conversation(request, pk)
    if conversation.unread_count and may(request, "reply"):
        mark_conversation_read(conversation)
    return page(request, "wacloud/inbox/_thread.html", _chat_context(request, conversation))


@require_GET
@member_view("read")
def template_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The composer's filled preview of a template, with the values typed so far."""
    conversation = _conversation(request, pk)
    templates = inbox.sendable_templates(request.organization, conversation.account)
    raw = request.GET.get("template", "")
    template = templates.filter(pk=raw).first() if raw.isdigit() else None
    values = [request.GET.get(f"value_{n}", "") for n in range(1, 11)]
    typed = values if any(values) else None  # nothing typed yet: the template's example values
    preview = inbox.template_preview(template, typed) if template else None
    context = {"conversation": conversation, "templates": templates, "template": template, "preview": preview}
    return page(request, "wacloud/inbox/_template_form.html", context)


@require_POST
@member_view("read")
def send(request: HttpRequest, pk: int) -> HttpResponse:
    """The composer: text or media inside the window (``reply``), a template (``send_template``)."""
    conversation = _conversation(request, pk)
    kind = request.POST.get("kind", "text")
    require(request, "send_template" if kind == "template" else "reply")
    error = ""
    try:
        message = _send(request, conversation, kind)
    except (WacloudError, ValueError) as refused:  # refusals are typed: shown in the composer
        error = str(refused)
    else:
        if message.status == Message.Status.FAILED:
            error = message.error_message or "The message could not be sent."
        else:
            record_agent_reply(message, request.user)
    if _is_htmx(request):
        context = _chat_context(request, conversation, send_error=error)
        return page(request, "wacloud/inbox/_chat_live.html", context)
    if error:
        flash.error(request, error)
    return redirect("wacloud_inbox:chat", pk=conversation.pk)


def _send(request: HttpRequest, conversation: Conversation, kind: str) -> Message:
    to, account = recipient_of(conversation.contact), conversation.account  # number, else BSUID
    reply_to = request.POST.get("reply_to") or None
    options = {"enqueue": use_celery(), "reply_to": reply_to}
    if kind == "text":
        body = request.POST.get("body", "").strip()
        if not body:
            raise inbox.InboxError("Type a message first.")
        return send_message(account, to, "text", body, **options)
    if kind == "media":
        upload = request.FILES.get("file")
        media_type = request.POST.get("media_type", "")
        if upload is None:
            raise inbox.InboxError("Choose a file to send.")
        if media_type not in MEDIA_TYPES:
            media_type = _media_type_of(upload.content_type or "")
        caption = request.POST.get("caption", "").strip()
        content = {"caption": caption} if caption and media_type != "audio" else None
        if media_type == "document":
            content = {**(content or {}), "filename": upload.name}
        return send_message(account, to, media_type, content, media=upload, **options)
    if kind == "template":
        raw = request.POST.get("template", "")
        templates = inbox.sendable_templates(request.organization, account)
        template: Template | None = templates.filter(pk=raw).first() if raw.isdigit() else None
        if template is None:
            raise inbox.InboxError("Choose an approved template.")
        values = [
            request.POST.get(f"value_{n}", "").strip()
            for n in inbox.template_preview(template)["placeholders"]
        ]
        return send_message(
            account, to, "template", template_name=template.name, template_language=template.language,
            template_components=inbox.body_components(values), **options,
        )  # fmt: skip
    raise inbox.InboxError(f"Unknown kind of message: {kind!r}.")


def _media_type_of(mime_type: str) -> str:
    major = mime_type.split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "document"


@require_POST
@member_view("reply")
def archive(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    archived = request.POST.get("archived", "1") != "0"
    try:
        inbox.archive_conversation(conversation, archived=archived)
    except inbox.InboxError as refused:
        flash.error(request, str(refused))
        return redirect("wacloud_inbox:chat", pk=conversation.pk)
    flash.success(request, "Conversation archived." if archived else "Conversation reopened.")
    return redirect("wacloud_inbox:conversations")


@require_POST
@member_view("reply")
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign the conversation to a member who may reply (``assignee``: a user id), or to
    nobody (empty); services.assignment refuses anyone else."""
    conversation = _conversation(request, pk)
    raw = request.POST.get("assignee", "").strip()
    try:
        if raw and not (raw.isascii() and raw.isdigit()):
            raise AssignmentRefused(f"assignee: {raw[:20]!r} is not a user id")
        assignee = get_user_model().objects.filter(pk=int(raw)).first() if raw else None
        if raw and assignee is None:  # told apart from a stranger by nothing
            raise AssignmentRefused(not_assignable(raw, request.organization))
        assign_conversation(conversation, assignee)
    except AssignmentRefused as refused:
        flash.error(request, f"Not assigned: {refused}")
    else:
        flash.success(request, f"Assigned to {assignee.get_username()}." if assignee else "Unassigned.")
    return redirect("wacloud_inbox:chat", pk=conversation.pk)


@require_POST
@member_view("reply")
def typing(request: HttpRequest, pk: int) -> HttpResponse:
    """The composer's keystrokes, throttled: Meta's typing indicator for the contact."""
    conversation = _conversation(request, pk)
    try:
        inbox.show_typing(conversation)
    except Exception as error:  # only a courtesy to the contact: never an error for the agent
        logger.info("typing indicator for conversation %s failed: %s", conversation.pk, error)
    return HttpResponse(status=204)


@require_GET
@member_view("read")
def media(request: HttpRequest, pk: int) -> HttpResponse:
    """A stored media file of the organization (downloaded from Meta on first use)."""
    media_file = scoped_or_404(request, MediaFile.objects.select_related("account"), pk=pk)
    if not media_file.file:
        try:
            media_file = download_media_file(media_file.pk)
        except WacloudError:
            raise Http404("media unavailable") from None
    if not media_file.file:
        raise Http404("media unavailable")
    return FileResponse(
        media_file.file.open("rb"),
        content_type=media_file.mime_type or None,
        filename=media_file.filename or media_file.media_id,
    )
