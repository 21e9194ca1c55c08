"""The circuit breaker per account for calls to Meta (``WACLOUD["CIRCUIT_BREAKER"]``).

The send step asks :func:`check_circuit` before it claims a message and reports
each answer with :func:`record_outcome`. When a run of transient failures (or
too high an error rate) opens an account's circuit, its messages stay
``queued`` and are tried again when the one probe of the half-open circuit is
due; the probe's success closes the circuit. The state lives where the rate
limiter's does (``BACKEND`` defaults to ``RATE_LIMIT``'s): one process, the
processes of one host (SQLite), or every host (Redis), keyed by phone number id.

Opening and closing are logged and announced once, by the process that made the
transition, with the ``circuit_opened`` and ``circuit_closed`` signals.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from datetime import datetime, timezone
from typing import Any

from wacloud.circuit import CircuitState, CircuitStatus, Permit, check_config, create_circuit_breaker
from wacloud.errors import DeliveryUnknown, GraphAPIError, RateLimited

from ..conf import get_setting, setting_name
from ..exceptions import SettingError
from ..log_privacy import get_logger
from ..models import BusinessAccount
from .clients import rate_limit_backend_problem

logger = get_logger("wacloud.circuit")

_lock = threading.Lock()
_breakers: dict[tuple, Any] = {}
_SETTING = "CIRCUIT_BREAKER"
_OPTIONS = {
    "FAILURE_THRESHOLD": "failure_threshold",
    "ERROR_RATE": "error_rate",
    "WINDOW_SECONDS": "window_seconds",
    "MIN_CALLS": "min_calls",
    "COOL_DOWN_SECONDS": "cool_down_seconds",
    "MAX_COOL_DOWN_SECONDS": "max_cool_down_seconds",
}
_ALLOWED = Permit(allowed=True)


def breaker_settings() -> dict[str, Any]:
    """``WACLOUD["CIRCUIT_BREAKER"]`` merged over its defaults, keys checked."""
    configured = get_setting(_SETTING)
    unknown = sorted(set(configured) - {*_OPTIONS, "ENABLED", "BACKEND"})
    if unknown:
        raise SettingError(_SETTING, f"{setting_name(_SETTING)} has unknown keys: {', '.join(unknown)}")
    if not isinstance(configured["ENABLED"], bool):
        raise SettingError(_SETTING, f"{setting_name(_SETTING, 'ENABLED')} must be True or False")
    return configured


def settings_problem() -> str | None:
    """Why ``WACLOUD["CIRCUIT_BREAKER"]`` cannot build a breaker, or ``None`` (system check
    ``wacloud.E050``)."""
    try:
        configured = breaker_settings()
        if configured["ENABLED"]:
            _backend(configured.get("BACKEND"))
            check_config(**{option: configured[key] for key, option in _OPTIONS.items()})
    except SettingError as error:
        return str(error)
    except (TypeError, ValueError) as error:
        return f"{setting_name(_SETTING)}: {error}"
    return None


def breaker_clock() -> float:
    """What the breakers read as now: the wall clock, the one every process and host shares.
    Looked up at each call, so tests can replace it with a clock they move."""
    return time.time()


def _read_clock() -> float:
    return breaker_clock()


def configured_breaker() -> Any | None:
    """This process's breaker for the current settings (``None``: disabled); one for every
    account, each keyed by its phone number id."""
    configured = breaker_settings()
    if not configured["ENABLED"]:
        return None
    backend = _backend(configured.get("BACKEND"))
    options = {option: configured[key] for key, option in _OPTIONS.items()}
    cache_key = (backend, tuple(sorted(options.items())))
    with _lock:
        breaker = _breakers.get(cache_key)
        if breaker is None:
            try:
                breaker = _breakers[cache_key] = create_circuit_breaker(backend, clock=_read_clock, **options)
            except (ImportError, TypeError, ValueError) as error:
                raise SettingError(_SETTING, f"{setting_name(_SETTING)} is not usable: {error}") from None
        return breaker


def forget_circuit_breakers() -> None:
    """Drop this process's breakers (tests; the memory backend's state goes with them)."""
    with _lock:
        _breakers.clear()


def _backend(configured: Any) -> str:
    if configured is None:
        configured = get_setting("RATE_LIMIT").get("BACKEND") or "memory"
        if isinstance(configured, str) and "." in configured and ":" not in configured:
            # A limiter factory of the host's own: it cannot hold circuits, so they stay per process.
            return "memory"
    if rate_limit_backend_problem(configured) or ("." in configured and ":" not in configured):
        raise SettingError(
            _SETTING,
            f'{setting_name(_SETTING, "BACKEND")} must be None (the rate limiter\'s), "memory", "sqlite", '
            f'"sqlite:PATH" or a redis:// URL, got {configured!r}',
        )
    if configured == "sqlite":  # the rate limiter's file: its own table there
        return "sqlite:" + os.path.join(tempfile.gettempdir(), "wacloud-ratelimit.sqlite3")
    return configured


def counts_as_outage(error: BaseException) -> bool:
    """Whether an error says Meta is failing: no answer (network, timeout) or a
    transient server error (5xx, 131000, 2). Throttling (130429, 131056, 80007)
    does not: it is about our pace, the rate limiter's business, and comes with
    its own wait; nor do permanent errors (a bad recipient or template), which
    are answers from a Meta that works."""
    if isinstance(error, RateLimited):
        return False
    if isinstance(error, DeliveryUnknown):
        return True
    return isinstance(error, GraphAPIError) and error.retriable


def check_circuit(account: BusinessAccount) -> Permit:
    """May a call for ``account`` go to Meta now? A probe is taken when one is due."""
    breaker = configured_breaker()
    if breaker is None:
        return _ALLOWED
    try:
        permit = breaker.allow(account.phone_number_id)
    except Exception:
        # The breaker's store (Redis, the SQLite file) failing must not stop sends: fail open.
        logger.exception("circuit for account %s: the breaker is unavailable; sending anyway",
                         account.phone_number_id)  # fmt: skip
        return _ALLOWED
    if permit.transition:
        _announce(account, breaker, permit.transition, None)
    return permit


def record_outcome(account: BusinessAccount, error: BaseException | None) -> None:
    """Report what Meta did with one call: ``None`` (it answered), or the error."""
    breaker = configured_breaker()
    if breaker is None:
        return
    try:
        if error is not None and counts_as_outage(error):
            transition = breaker.record_failure(account.phone_number_id)
        else:
            transition = breaker.record_success(account.phone_number_id)
    except Exception:
        # Never let the breaker's store hide what happened to the send itself.
        logger.exception("circuit for account %s: could not record an outcome", account.phone_number_id)
        return
    if transition:
        _announce(account, breaker, transition, error)


def circuit_status(account: BusinessAccount) -> CircuitStatus | None:
    """The account's circuit (``None``: the breaker is disabled)."""
    breaker = configured_breaker()
    return None if breaker is None else breaker.status(account.phone_number_id)


def circuit_view(account: BusinessAccount) -> dict[str, Any]:
    """The account's circuit as JSON-ready data, for the monitor and the health endpoint:
    ``state`` is ``closed``, ``open``, ``half_open``, ``disabled`` or ``unknown`` (the
    breaker's store did not answer; ``error`` says why)."""
    try:
        status = circuit_status(account)
    except SettingError:
        raise
    except Exception as error:
        return {"state": "unknown", "error": str(error)[:200]}
    if status is None:
        return {"state": "disabled"}
    retry_at = status.retry_at
    return {
        "state": status.state.value,
        "consecutive_failures": status.consecutive_failures,
        "opened_at": _iso(status.opened_at),
        "retry_at": _iso(retry_at),
    }


def circuit_report(account: BusinessAccount | None = None) -> list[dict[str, Any]]:
    """:func:`circuit_view` of ``account``, or of every active account, with its phone number id."""
    accounts = [account] if account else BusinessAccount.objects.filter(is_active=True).order_by("pk")
    return [{"account": item.phone_number_id, **circuit_view(item)} for item in accounts]


#: The ``wacloud_circuit_state`` gauge's values.
STATE_VALUES = {CircuitState.CLOSED: 0, CircuitState.OPEN: 1, CircuitState.HALF_OPEN: 2}


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def _announce(account: BusinessAccount, breaker: Any, transition: str, error: BaseException | None) -> None:
    from .. import signals

    status = breaker.status(account.phone_number_id)
    number = account.phone_number_id
    if transition == "opened":
        logger.warning(
            "circuit for account %s opened after transient failures (last: %r); sends wait %.0fs for a probe",
            number, error, status.cool_down or 0,
        )  # fmt: skip
        signals.circuit_opened.send(BusinessAccount, account=account, status=status, error=error)
    elif transition == "reopened":
        logger.info("circuit for account %s: the probe failed (%r); open for %.0fs more",
                    number, error, status.cool_down or 0)  # fmt: skip
    elif transition == "half_opened":
        logger.info("circuit for account %s: cool-down over, letting one probe through", number)
    elif transition == "closed":
        logger.info("circuit for account %s closed: the probe succeeded, sends resume", number)
        signals.circuit_closed.send(BusinessAccount, account=account, status=status)
