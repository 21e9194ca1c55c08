"""Timing of Graph API calls and rate limiter waits for the Prometheus metrics.

The HTTP client and the limiters live in the C++ core, which reports no timings, so
the Django services measure from the outside: every client they build is wrapped
in :class:`MeasuredClient` (each public method call is one observation, labelled by
endpoint), and, while metrics are enabled, the rate limiter in
:class:`MeasuredRateLimiter`. The wrapped limiter is asked from Python before each
send (once per send: a retry inside the core takes no second slot); the time it
waited is subtracted from the call's latency, so the two histograms do not overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from .. import metrics
from ..exceptions import SettingError
from ..log_privacy import get_logger

logger = get_logger("wacloud.metrics")
#: Seconds the current call spent waiting for the rate limiter.
_waited: ContextVar[float] = ContextVar("wacloud_rate_limit_waited", default=0.0)

_MEDIA_DOWNLOAD = {"download_media", "get_media"}


def metrics_on() -> bool:
    """Whether to measure; a malformed ``WACLOUD["METRICS"]`` (check wacloud.E030) is off."""
    try:
        return metrics.installed() and metrics.enabled()
    except SettingError:
        return False


def _observe(record: Callable[..., None], *args: Any) -> None:
    try:
        record(*args)
    except Exception:  # a metric must never break the call it measures
        logger.debug("could not record a metric", exc_info=True)


def endpoint_of(method: str) -> str:
    """The ``endpoint`` label of a :class:`wacloud.Client` method."""
    if method.startswith("send"):
        return "send"
    if method == "upload_media":
        return "media_upload"
    if method in _MEDIA_DOWNLOAD:
        return "media_download"
    if "template" in method:
        return "templates"
    return "other"


class MeasuredRateLimiter:
    """A limiter whose ``acquire`` is timed. It has no ``native`` on purpose: the client
    then asks it from Python, where the wait can be seen."""

    def __init__(self, limiter: Any) -> None:
        self.limiter = limiter

    def acquire(self, key: str, recipient: str = "", timeout: float | None = None) -> bool:
        started = time.monotonic()
        acquired = bool(self.limiter.acquire(key, recipient, timeout))
        waited = time.monotonic() - started
        _waited.set(_waited.get() + waited)
        _observe(metrics.observe_rate_limit_wait, waited, acquired)
        return acquired

    def try_acquire(self, key: str, recipient: str = "") -> bool:
        return bool(self.limiter.try_acquire(key, recipient))

    def __repr__(self) -> str:
        return f"MeasuredRateLimiter({self.limiter!r})"


def measured_limiter(limiter: Any) -> Any:
    """``limiter`` wrapped while metrics are enabled (and installed), else as it is."""
    if limiter is None or not metrics_on():
        return limiter
    return MeasuredRateLimiter(limiter)


class MeasuredClient:
    """A :class:`wacloud.Client` whose public method calls are timed; everything else
    passes through."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._client, name)
        if name.startswith("_") or not callable(value):
            return value
        return _timed(value, endpoint_of(name))

    def __repr__(self) -> str:
        return repr(self._client)


def _timed(method: Callable[..., Any], endpoint: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        token = _waited.set(0.0)
        started = time.monotonic()
        ok = False
        try:
            result = method(*args, **kwargs)
            ok = True
            return result
        finally:
            seconds = time.monotonic() - started - _waited.get()
            _waited.reset(token)
            _observe(metrics.observe_meta_call, endpoint, seconds, ok)

    return call


def measured_client(client: Any) -> MeasuredClient:
    return client if isinstance(client, MeasuredClient) else MeasuredClient(client)
