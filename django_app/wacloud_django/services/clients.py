"""Per-account Graph clients and rate limiters, cached per process: a client
keeps its connection pool between sends, and every client of one process (or,
with ``sqlite:PATH`` or Redis, of every worker) draws on one send budget."""

from __future__ import annotations

import os
import tempfile
import threading
from typing import Any

from ..conf import get_setting, setting_name
from ..exceptions import SettingError
from ..models import BusinessAccount
from .accounts import client_for_account
from .instrumentation import measured_limiter, metrics_on

_cache_lock = threading.Lock()
_clients: dict[tuple, Any] = {}
_limiters: dict[tuple, Any] = {}


def rate_limit_for(account: BusinessAccount) -> dict[str, Any]:
    """The account's limits, falling back to ``WACLOUD["RATE_LIMIT"]``."""
    configured = get_setting("RATE_LIMIT")
    return {
        "per_second": account.rate_limit_per_second or configured.get("PER_SECOND"),
        "per_hour": account.rate_limit_per_hour or configured.get("PER_HOUR"),
        "backend": configured.get("BACKEND") or "memory",
    }


def rate_limiter_for(account: BusinessAccount) -> Any:
    """The process-wide limiter for the account's limits (``None``: unlimited).
    ``sqlite:PATH`` shares one budget among every worker process on the host."""
    limits = rate_limit_for(account)
    if not limits["per_second"]:
        return None
    key = (limits["per_second"], limits["per_hour"], limits["backend"])
    with _cache_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = _make_limiter(**limits)
        return limiter


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def rate_limit_backend_problem(backend: Any) -> str | None:
    """Why ``WACLOUD["RATE_LIMIT"]["BACKEND"]`` is not a backend we can build, or
    None. One rule for the system check and the factory: ``memory``; ``sqlite``
    (a file in the temp folder) or ``sqlite:PATH``, shared by the processes of one
    host; a Redis URL, shared by every host; or the dotted path of a factory called
    with ``per_second`` and ``per_hour``."""
    if isinstance(backend, str) and (
        backend in ("memory", "sqlite")
        or backend.startswith(("sqlite:", *_REDIS_SCHEMES))
        or ("." in backend and ":" not in backend)
    ):
        return None
    return (
        f'{setting_name("RATE_LIMIT", "BACKEND")} must be "memory", "sqlite", "sqlite:PATH", '
        f"a redis:// URL or the dotted path of a factory, got {backend!r}"
    )


def _make_limiter(per_second: float, per_hour: float | None, backend: Any) -> Any:
    from django.utils.module_loading import import_string

    from wacloud.ratelimit import create_rate_limiter

    problem = rate_limit_backend_problem(backend)
    if problem:
        raise SettingError("RATE_LIMIT", problem)
    if backend == "sqlite":
        backend = "sqlite:" + os.path.join(tempfile.gettempdir(), "wacloud-ratelimit.sqlite3")
    try:
        if backend == "memory" or backend.startswith(("sqlite:", *_REDIS_SCHEMES)):
            return create_rate_limiter(backend, per_second=per_second, per_hour=per_hour)
        return import_string(backend)(per_second=per_second, per_hour=per_hour)
    except (ImportError, TypeError, ValueError) as error:
        name = setting_name("RATE_LIMIT", "BACKEND")
        raise SettingError("RATE_LIMIT", f"{name} = {backend!r} is not usable: {error}") from None


def client_for(account: BusinessAccount) -> Any:
    """A cached :class:`wacloud.Client` for ``account`` with its rate limiter.
    The cache key holds the encrypted token, so a new token (services/tokens.py) gets
    a new client in every process without a restart; the account's older clients are
    dropped from the cache, and a send still running on one finishes with it."""
    timeout = float(get_setting("REQUEST_TIMEOUT", 30))
    retries = int(get_setting("MAX_RETRIES", 3))
    key = (
        account.pk, account.access_token_encrypted, account.effective_api_version, get_setting("BASE_URL"),
        timeout, retries, tuple(sorted(rate_limit_for(account).items())), metrics_on(),
    )  # fmt: skip
    with _cache_lock:
        client = _clients.get(key)
    if client is None:
        client = client_for_account(
            account, timeout=timeout, max_retries=retries,
            rate_limiter=measured_limiter(rate_limiter_for(account)),  # timed while metrics are on
        )  # fmt: skip
        with _cache_lock:
            for stale in [k for k in _clients if k[0] == account.pk and k != key]:
                del _clients[stale]
            _clients[key] = client
    return client
