"""The Graph API client. All network work runs in the C++ core (libcurl, one
connection pool per client, the GIL released); this module adapts arguments
and results.

>>> client = Client(token, "106540352242922")          # doctest: +SKIP
>>> client.send_text("+16505551234", "Hello").message_id  # doctest: +SKIP
'wamid.HBgL...'
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from . import _core
from . import media as _media
from .errors import GraphAPIError, InvalidParameter, RateLimited
from .messages import (
    Audio,
    Buttons,
    Contacts,
    CtaUrl,
    Document,
    Header,
    Image,
    ListMessage,
    Location,
    Message,
    Reaction,
    ReplyButton,
    Section,
    Sticker,
    Template,
    Text,
    Video,
    dumps_fields,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "REQUIRED_TOKEN_SCOPES",
    "Client",
    "GranularScope",
    "PythonRateLimiter",
    "RemoteMedia",
    "SendResult",
    "TokenInfo",
]

# A current Graph API version. Meta keeps each version about two years (v21.0 is retired on
# 2027-01-21); from v24.0 status webhooks no longer carry ``conversation``.
DEFAULT_API_VERSION = "v25.0"


@dataclass(frozen=True)
class SendResult:
    """Meta's answer to a send: the message id (wamid), the recipient's wa_id,
    the ``to`` as sent, and ``message_status`` (e.g. ``"accepted"``; may be empty)."""

    message_id: str
    wa_id: str
    input: str
    message_status: str


@dataclass(frozen=True)
class RemoteMedia:
    """Media held by Meta (``GET /<media-id>``). ``url`` is short-lived and
    needs the access token; ``sha256`` is lowercase hex."""

    id: str
    url: str
    mime_type: str
    sha256: str
    file_size: int


#: The permissions a token needs for wacloud: messages, and templates and the number's settings.
REQUIRED_TOKEN_SCOPES: tuple[str, ...] = tuple(_core.required_token_scopes())


def _utc(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=timezone.utc) if seconds else None


@dataclass(frozen=True)
class GranularScope:
    """A permission limited to some objects: ``target_ids`` are WABA (or page) ids;
    empty means every object the token's user can reach."""

    scope: str
    target_ids: tuple[str, ...]


@dataclass(frozen=True)
class TokenInfo:
    """What Meta's ``debug_token`` says about an access token. ``expires_at`` is
    ``None`` for a token that never expires (system user tokens);
    ``missing_permissions`` are those of :data:`REQUIRED_TOKEN_SCOPES` it lacks.
    An invalid token has ``valid`` false and Meta's reason in ``error_code``
    (190), ``error_subcode`` (463: expired, 460: password changed, ...) and
    ``error_message``."""

    valid: bool
    app_id: str
    type: str
    application: str
    user_id: str
    expires_at: datetime | None
    data_access_expires_at: datetime | None
    issued_at: datetime | None
    scopes: tuple[str, ...]
    granular_scopes: tuple[GranularScope, ...]
    missing_permissions: tuple[str, ...]
    error_code: int = 0
    error_subcode: int = 0
    error_message: str = ""

    @classmethod
    def _from_core(cls, raw: Mapping[str, Any]) -> TokenInfo:
        return cls(
            valid=bool(raw["is_valid"]),
            app_id=raw["app_id"],
            type=raw["type"],
            application=raw["application"],
            user_id=raw["user_id"],
            expires_at=_utc(raw["expires_at"]),
            data_access_expires_at=_utc(raw["data_access_expires_at"]),
            issued_at=_utc(raw["issued_at"]),
            scopes=tuple(raw["scopes"]),
            granular_scopes=tuple(GranularScope(scope, tuple(ids)) for scope, ids in raw["granular_scopes"]),
            missing_permissions=tuple(raw["missing_scopes"]),
            error_code=raw["error_code"],
            error_subcode=raw["error_subcode"],
            error_message=raw["error_message"],
        )

    @property
    def expired(self) -> bool:
        """Meta says the session expired (subcode 463), or ``expires_at`` has passed."""
        if self.error_subcode == 463:
            return True
        return self.expires_at is not None and self.expires_at.timestamp() <= time.time()

    def seconds_left(self, now: datetime | None = None) -> float | None:
        """Seconds until ``expires_at`` (negative once past); ``None`` when it never expires."""
        if self.expires_at is None:
            return None
        now = now or datetime.now(timezone.utc)
        return (self.expires_at - now).total_seconds()

    def target_ids(self, scope: str) -> tuple[str, ...] | None:
        """The objects ``scope`` is limited to; ``None`` when the token lacks the
        scope's granular entry (or it names no targets: every object)."""
        for granular in self.granular_scopes:
            if granular.scope == scope:
                return granular.target_ids or None
        return None

    def covers(self, waba_id: str) -> bool:
        """Whether every required permission that lists target ids includes ``waba_id``."""
        for scope in REQUIRED_TOKEN_SCOPES:
            targets = self.target_ids(scope)
            if targets is not None and waba_id not in targets:
                return False
        return True


@runtime_checkable
class PythonRateLimiter(Protocol):
    """Any object with this method can be a client's ``rate_limiter``: it should
    block until a send from ``key`` (the phone number id) to ``recipient`` (a
    wa_id) is allowed and return ``False`` if ``timeout`` seconds pass first."""

    def acquire(self, key: str, recipient: str, timeout: float | None) -> bool: ...


def _native_limiter(limiter: Any) -> Any:
    """The core limiter behind ``limiter``, or None when it is a Python object."""
    # wacloud.RateLimiter exposes its core object as `native`.
    for candidate in (limiter, getattr(limiter, "native", None)):
        if isinstance(candidate, _core.RateLimiter):
            return candidate
    return None


class Client:
    """A WhatsApp Cloud API client for one business phone number.

    ``timeout`` bounds each request (seconds); ``max_retries`` is how many times
    a transient or throttled request is resent, after exponential backoff with
    jitter starting near ``retry_backoff`` seconds and never above
    ``retry_backoff_max`` (a longer ``Retry-After`` is raised as
    :class:`RateLimited` instead of waited out). A send that may have reached
    Meta without an answer raises :class:`DeliveryUnknown` and is not resent.
    ``rate_limiter`` is a :class:`wacloud.RateLimiter` (run in C++) or any
    object with ``acquire(key, recipient, timeout) -> bool``."""

    def __init__(
        self,
        access_token: str,
        phone_number_id: str,
        waba_id: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        base_url: str = "https://graph.facebook.com",
        timeout: float = 30,
        max_retries: int = 3,
        rate_limiter: Any = None,
        *,
        connect_timeout: float = 10,
        retry_backoff: float = 0.5,
        retry_backoff_max: float = 30.0,
        rate_limit_timeout: float | None = None,
        default_region: str | None = None,
    ) -> None:
        for name, value in (("access_token", access_token), ("phone_number_id", phone_number_id)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, not {type(value).__name__}")
        native = _native_limiter(rate_limiter) if rate_limiter is not None else None
        if (
            rate_limiter is not None
            and native is None
            and not callable(getattr(rate_limiter, "acquire", None))
        ):
            raise TypeError(
                "rate_limiter must be a wacloud.RateLimiter or have acquire(key, recipient, timeout)"
            )
        self._python_limiter = rate_limiter if rate_limiter is not None and native is None else None
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id
        self.api_version = api_version
        self.base_url = base_url
        self.timeout = float(timeout)
        self.rate_limit_timeout = rate_limit_timeout
        self.default_region = default_region
        # The token lives only inside the core object: no attribute, repr or pickle shows it.
        self._core = _core.GraphClient(
            access_token,
            str(phone_number_id),
            waba_id or "",
            api_version,
            base_url,
            float(timeout),
            float(connect_timeout),
            int(max_retries),
            float(retry_backoff),
            float(retry_backoff_max),
            native,
            rate_limit_timeout,
            default_region or "",
        )

    def __repr__(self) -> str:
        return (
            f"Client(phone_number_id={self.phone_number_id!r}, waba_id={self.waba_id!r}, "
            f"api_version={self.api_version!r}, base_url={self.base_url!r})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a wacloud Client holds a secret and a connection pool; it cannot be pickled")

    # ---- sending ------------------------------------------------------------
    def send(self, to: str, message: Message, *, reply_to: str | None = None) -> SendResult:
        """Send any :mod:`wacloud.messages` message to ``to`` (any phone format)."""
        payload, wa_id = self._prepare(to, message, reply_to)
        self._acquire_python_limiter(wa_id)
        return SendResult(*self._core.send_payload(payload, wa_id))

    def send_text(
        self, to: str, body: str, preview_url: bool = False, reply_to: str | None = None
    ) -> SendResult:
        """Send a text message (at most 4096 characters); ``preview_url`` shows a
        preview of the first link. Outside the customer's 24-hour window Meta
        refuses it (:class:`wacloud.ReEngagementRequired`): send a template."""
        return self.send(to, Text(body, preview_url), reply_to=reply_to)

    def send_image(
        self,
        to: str,
        media_id: str | None = None,
        link: str | None = None,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send an image by ``media_id`` (from :meth:`upload_media`) or public
        ``link`` (exactly one), with an optional ``caption``."""
        return self.send(to, Image(media_id, link, caption), reply_to=reply_to)

    def send_video(
        self,
        to: str,
        media_id: str | None = None,
        link: str | None = None,
        caption: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a video by ``media_id`` or ``link`` (exactly one), with an optional ``caption``."""
        return self.send(to, Video(media_id, link, caption), reply_to=reply_to)

    def send_document(
        self,
        to: str,
        media_id: str | None = None,
        link: str | None = None,
        caption: str | None = None,
        filename: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a document by ``media_id`` or ``link`` (exactly one); ``filename``
        is the name the recipient sees."""
        return self.send(to, Document(media_id, link, caption, filename), reply_to=reply_to)

    def send_audio(
        self, to: str, media_id: str | None = None, link: str | None = None, reply_to: str | None = None
    ) -> SendResult:
        """Send audio (or a voice note) by ``media_id`` or ``link`` (exactly one); audio takes no caption."""
        return self.send(to, Audio(media_id, link), reply_to=reply_to)

    def send_sticker(
        self, to: str, media_id: str | None = None, link: str | None = None, reply_to: str | None = None
    ) -> SendResult:
        """Send a WebP sticker by ``media_id`` or ``link`` (exactly one)."""
        return self.send(to, Sticker(media_id, link), reply_to=reply_to)

    def send_location(
        self,
        to: str,
        latitude: float,
        longitude: float,
        name: str | None = None,
        address: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a map pin at ``latitude``/``longitude``, optionally named and with an address."""
        return self.send(to, Location(latitude, longitude, name, address), reply_to=reply_to)

    def send_contacts(
        self, to: str, contacts: Sequence[Mapping[str, Any]], reply_to: str | None = None
    ) -> SendResult:
        """Send contact cards, each a mapping in Meta's contact object format
        (``name``, ``phones``, ``emails``, ...)."""
        return self.send(to, Contacts(contacts), reply_to=reply_to)

    def send_reaction(self, to: str, message_id: str, emoji: str) -> SendResult:
        """React to ``message_id`` with one emoji; ``""`` removes the reaction."""
        return self.send(to, Reaction(message_id, emoji))

    def send_template(
        self, to: str, name: str, language: str, components: Sequence[Mapping[str, Any]] | None = None
    ) -> SendResult:
        """Send the approved template ``name`` in ``language`` (e.g. ``"en_US"``);
        ``components`` fill its parameters in Meta's format. Templates are the only
        messages allowed outside the customer's 24-hour window."""
        return self.send(to, Template(name, language, components))

    def send_buttons(
        self,
        to: str,
        body: str,
        buttons: Sequence[ReplyButton | tuple[str, str] | Mapping[str, str]],
        header: str | Header | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send up to 3 reply buttons (``(id, title)``, titles of at most 20
        characters) under ``body``; the tap comes back as an inbound message."""
        return self.send(to, Buttons(body, buttons, header, footer), reply_to=reply_to)

    def send_list(
        self,
        to: str,
        body: str,
        button: str,
        sections: Sequence[Section | Mapping[str, Any]],
        header: str | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a list: ``button`` opens up to 10 ``sections`` holding at most 10 rows in all."""
        return self.send(to, ListMessage(body, button, sections, header, footer), reply_to=reply_to)

    def send_cta_url(
        self,
        to: str,
        body: str,
        display_text: str,
        url: str,
        header: str | Header | None = None,
        footer: str | None = None,
        reply_to: str | None = None,
    ) -> SendResult:
        """Send a call-to-action button labelled ``display_text`` that opens ``url``."""
        return self.send(to, CtaUrl(body, display_text, url, header, footer), reply_to=reply_to)

    def send_many(
        self, messages: Iterable[tuple[str, Message] | Mapping[str, Any]], concurrency: int = 32
    ) -> list[SendResult | GraphAPIError]:
        """Send many messages with up to ``concurrency`` requests in flight, in
        one C++ call with the GIL released. Items are ``(to, message)`` pairs or
        payloads from :meth:`Message.to_payload`. Returns, in input order, a
        :class:`SendResult` or the :class:`GraphAPIError` that ended each send.

        Every item is checked first: a bad one raises (naming its index in
        ``error.send_many_index``) before anything is sent. A Python
        ``rate_limiter`` is asked for each message of a group of
        ``concurrency`` before that group is dispatched."""
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise InvalidParameter("concurrency: must be a positive int", code=100)
        prepared = [self._prepare_item(index, item) for index, item in enumerate(messages)]
        if self._python_limiter is None:
            return [self._outcome(raw) for raw in self._core.send_many(prepared, concurrency)]
        results: list[SendResult | GraphAPIError] = []
        for start in range(0, len(prepared), concurrency):
            group = prepared[start : start + concurrency]
            allowed = [self._python_limiter_allows(wa_id) for _, wa_id in group]
            sent = iter(
                self._core.send_many(
                    [item for item, ok in zip(group, allowed, strict=True) if ok], concurrency
                )
            )
            results.extend(self._outcome(next(sent)) if ok else self._limiter_refusal() for ok in allowed)
        return results

    def mark_read(self, message_id: str, typing_indicator: bool = False) -> None:
        """Mark an inbound message (and earlier ones) as read, optionally showing
        a typing indicator until the reply (or 25 seconds)."""
        self._core.mark_read(message_id, bool(typing_indicator))

    # ---- media ----------------------------------------------------------------
    def upload_media(
        self,
        path_or_bytes: str | os.PathLike | bytes | bytearray | memoryview,
        mime_type: str | None = None,
        filename: str | None = None,
    ) -> str:
        """Upload media and return its id. The content is checked first with
        :func:`wacloud.media.check` (type sniffed, Meta's types and sizes), so
        media Meta would refuse raises :class:`wacloud.MediaRejected` unsent."""
        info = _media.check(path_or_bytes, mime_type)
        if isinstance(path_or_bytes, (str, os.PathLike)):
            path = os.fspath(path_or_bytes)
            name = filename or os.path.basename(path)
            return self._core.upload_media(None, path, info.mime, name)
        return self._core.upload_media(bytes(path_or_bytes), "", info.mime, filename or "")

    def get_media(self, media_id: str) -> RemoteMedia:
        return RemoteMedia(*self._core.get_media(media_id))

    def download_media(self, media_id: str, dest: str | os.PathLike) -> RemoteMedia:
        """Stream media to ``dest`` (via a temporary file beside it). Its size and
        SHA-256 must match Meta's, else :class:`MediaError` and no file is left."""
        return RemoteMedia(*self._core.download_media(media_id, os.fspath(dest)))

    def delete_media(self, media_id: str) -> None:
        self._core.delete_media(media_id)

    # ---- templates, profile, health --------------------------------------------
    def list_templates(
        self, status: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[dict]:
        """Every template of the WABA, following ``paging.next``; ``limit`` is
        the page size asked of Meta."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidParameter("limit: must be a positive int", code=100)
        return self._core.list_templates(status or "", name or "", limit)

    def create_template(
        self, name: str, language: str, category: str, components: Sequence[Mapping[str, Any]]
    ) -> dict:
        """Submit a template for review; returns Meta's ``{"id", "status", "category"}``."""
        return self._core.create_template(
            name, language, category, dumps_fields("template", list(components))
        )

    def delete_template(self, name: str) -> None:
        self._core.delete_template(name)

    def get_business_profile(self) -> dict:
        return self._core.get_business_profile()

    def update_business_profile(self, **fields: Any) -> None:
        """Set profile fields: ``about``, ``address``, ``description``, ``email``,
        ``profile_picture_handle``, ``vertical``, ``websites``."""
        self._core.update_business_profile(dumps_fields("business profile", fields))

    def get_phone_number(self) -> dict:
        """The number's health: ``verified_name``, ``display_phone_number``,
        ``quality_rating``, ``throughput``, ``messaging_limit_tier``, ..."""
        return self._core.get_phone_number()

    def debug_token(self, input_token: str | None = None) -> TokenInfo:
        """Ask Meta (``GET /debug_token``) about ``input_token``, by default this
        client's own token: validity, expiry, permissions and the WABAs they reach.
        An unknown or expired token is not an exception: ``valid`` is false and
        Meta's reason is in ``error_message``."""
        if input_token is not None and not isinstance(input_token, str):
            raise TypeError(f"input_token must be a str, not {type(input_token).__name__}")
        return TokenInfo._from_core(self._core.debug_token(input_token or ""))

    # ---- internals -------------------------------------------------------------
    def _prepare(self, to: Any, message: Any, reply_to: str | None) -> tuple[str, str]:
        if not isinstance(to, str):
            raise TypeError(f"to must be a str, not {type(to).__name__}")
        if not isinstance(message, Message):
            raise TypeError(f"message must be a wacloud.messages type, not {type(message).__name__}")
        fields = dumps_fields(message.type, message.fields())
        return self._core.prepare(message.type, fields, to, reply_to or "")

    def _prepare_item(self, index: int, item: Any) -> tuple[str, str]:
        try:
            if isinstance(item, Mapping):
                recipient = item.get("to")
                if not isinstance(recipient, str) or not recipient:
                    raise InvalidParameter('to: a prepared payload needs its recipient in "to"', code=100)
                return json.dumps(item, ensure_ascii=True), recipient
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError(
                    f"send_many takes (to, message) pairs or payload dicts, not {type(item).__name__}"
                )
            return self._prepare(item[0], item[1], None)
        except Exception as error:
            error.send_many_index = index  # type: ignore[attr-defined]
            if hasattr(error, "add_note"):
                error.add_note(f"in send_many item {index}")
            raise

    def _acquire_python_limiter(self, wa_id: str) -> None:
        if self._python_limiter is not None and not self._python_limiter_allows(wa_id):
            raise self._limiter_refusal()

    def _python_limiter_allows(self, wa_id: str) -> bool:
        timeout = self.rate_limit_timeout if self.rate_limit_timeout is not None else self.timeout
        return bool(self._python_limiter.acquire(self.phone_number_id, wa_id, timeout))

    def _limiter_refusal(self) -> RateLimited:
        return RateLimited("the rate limiter gave no send slot in time", retriable=True)

    @staticmethod
    def _outcome(raw: Any) -> SendResult | GraphAPIError:
        return raw if isinstance(raw, GraphAPIError) else SendResult(*raw)
