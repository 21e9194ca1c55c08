"""One id that ties together the log records (and signals) of one piece of work.

- A webhook: the intake sets ``webhook-<WebhookEvent id>``, or the request's
  ``X-Request-Id`` when it sends a usable one (kept with the stored event's headers);
  processing (a Celery task, inline, or a reprocess) derives the same id from the
  stored event, and the signals sent after its commit carry it.
- A send: ``message-<Message id>`` from the moment it is sent; the status webhooks that
  update the message switch to the same id while they apply its status, so the send and
  its ``sent``/``delivered``/``read`` log records and ``message_status_changed`` signals
  share one id (the ``sent as <wamid>`` record maps the wamid to the message).

A Celery task queued under an id (a media download, a read receipt) runs under it too:
the id travels in the ``wacloud_correlation_id`` message header. Receivers read it with
:func:`get`; formatters with ``%(correlation_id)s`` once
:class:`CorrelationIdFilter` is on their handler (docs/operations.md, "Logs").
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, TypeVar

#: The request header a proxy or the caller may set; used when it is a plain token.
REQUEST_ID_HEADER = "X-Request-Id"
_USABLE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")

_current: ContextVar[str | None] = ContextVar("wacloud_correlation_id", default=None)

F = TypeVar("F", bound=Callable[..., Any])


def get() -> str | None:
    """The current correlation id, or ``None`` outside any wacloud work."""
    return _current.get()


@contextmanager
def use(correlation_id: str | None) -> Iterator[str | None]:
    """Make ``correlation_id`` current inside the block (restored after, even if it
    was :func:`replace`-d inside)."""
    token = _current.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _current.reset(token)


def replace(correlation_id: str | None) -> None:
    """Change the id of the enclosing :func:`use` block (once more is known)."""
    _current.set(correlation_id)


def scoped(make_id: Callable[..., str | None]) -> Callable[[F], F]:
    """Run the decorated function under ``make_id(*args, **kwargs)``."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with use(make_id(*args, **kwargs)):
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


def bind(callback: Callable[[], Any]) -> Callable[[], Any]:
    """``callback`` run later (after a commit) under the id current now."""
    correlation_id = get()

    @functools.wraps(callback)
    def run() -> Any:
        with use(correlation_id):
            return callback()

    return run


def usable_request_id(value: str | None) -> str | None:
    """``value`` when it is a short plain token, else ``None`` (never log what a
    caller sends unchecked: it could forge log lines)."""
    return value if value and _USABLE.fullmatch(value) else None


def for_webhook_event(event: Any) -> str:
    headers = getattr(event, "headers", None) or {}
    return usable_request_id(headers.get(REQUEST_ID_HEADER)) or webhook_event_id(event.pk)


def webhook_event_id(event_id: Any, *args: Any, **kwargs: Any) -> str:
    return f"webhook-{event_id}"


def message_id(message_id: Any, *args: Any, **kwargs: Any) -> str:
    return f"message-{message_id}"


# -- Celery: the id travels in a message header to whatever task is queued under it ------------

CELERY_HEADER = "wacloud_correlation_id"


def on_before_task_publish(sender: Any = None, headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    correlation_id = get()
    if correlation_id and headers is not None and CELERY_HEADER not in headers:
        headers[CELERY_HEADER] = correlation_id


_task_tokens: dict[Any, Token[str | None]] = {}


def on_task_prerun(sender: Any = None, task_id: Any = None, task: Any = None, **kwargs: Any) -> None:
    request = getattr(task, "request", None)
    value = getattr(request, CELERY_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        CELERY_HEADER
    )
    # No header (an eager task runs in its caller's context): the current id stays.
    if isinstance(value, str) and usable_request_id(value):
        _task_tokens[task_id] = _current.set(value)


def on_task_postrun(sender: Any = None, task_id: Any = None, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        _current.reset(token)  # a worker's next task must not inherit this one's id


def connect_celery() -> None:
    """Carry the id from where a task is queued into the task (when Celery is installed)."""
    try:
        from celery import signals as celery_signals
    except ImportError:
        return
    for signal, receiver in (
        (celery_signals.before_task_publish, on_before_task_publish),
        (celery_signals.task_prerun, on_task_prerun),
        (celery_signals.task_postrun, on_task_postrun),
    ):
        signal.connect(receiver, weak=False, dispatch_uid=f"wacloud_django.correlation.{receiver.__name__}")


class CorrelationIdFilter(logging.Filter):
    """Sets ``record.correlation_id`` (``"-"`` outside wacloud work) for formatters.
    Put it on a handler to give every logger's records the attribute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", None):
            record.correlation_id = get() or "-"
        return True
