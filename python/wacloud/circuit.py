"""A circuit breaker per phone number id for calls to Meta.

After ``failure_threshold`` consecutive transient failures, or an error rate of
at least ``error_rate`` over ``min_calls`` or more calls within one window of
``window_seconds``, the circuit *opens*: :meth:`allow` refuses calls and says
how long to wait. After ``cool_down_seconds`` the first caller gets the one
*probe* (the circuit is *half-open*); its success closes the circuit, its
failure opens it again for twice the cool-down (up to ``max_cool_down_seconds``).
A probe that never reports back is presumed lost after one cool-down.

Three backends share the state the way the rate limiters do
(:mod:`wacloud.ratelimit`):

* :class:`CircuitBreaker` with ``backend="memory"``: one process (C++ core);
* :class:`CircuitBreaker` with ``backend="sqlite:PATH"``: every process on one host;
* :class:`RedisCircuitBreaker`: every process on every host (one Lua script per step).

Time comes from ``clock`` (default :func:`time.time`, read at each call), the
same for every backend, so hosts must keep their clocks in sync (NTP); a skew
only shifts a cool-down by that much. Each call returns the transition it
made (``"opened"``, ``"half_opened"``, ``"reopened"``, ``"closed"`` or
``None``): exactly one caller, in one process, sees each transition.
"""

from __future__ import annotations

import enum
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _core

__all__ = [
    "CircuitBreaker",
    "CircuitState",
    "CircuitStatus",
    "Permit",
    "RedisCircuitBreaker",
    "check_config",
    "create_circuit_breaker",
]


class CircuitState(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Permit:
    """The answer of :meth:`CircuitBreaker.allow`. ``probe``: this call is the
    half-open circuit's one probe. ``retry_in``: refused, seconds until a call
    may be allowed. ``transition``: what asking changed (``"half_opened"``)."""

    allowed: bool
    probe: bool = False
    retry_in: float = 0.0
    transition: str | None = None


@dataclass(frozen=True)
class CircuitStatus:
    """One key's circuit, for monitors. ``retry_at`` (clock seconds): when an
    open circuit lets its probe through (``None`` when closed)."""

    state: CircuitState
    consecutive_failures: int = 0
    calls: int = 0
    failures: int = 0
    opened_at: float | None = None
    cool_down: float | None = None

    @property
    def retry_at(self) -> float | None:
        if self.state is CircuitState.CLOSED or self.opened_at is None or self.cool_down is None:
            return None
        return self.opened_at + self.cool_down

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CircuitStatus:
        state = CircuitState(record.get("state") or "closed")
        is_open = state is not CircuitState.CLOSED
        return cls(
            state=state,
            consecutive_failures=int(record.get("consecutive_failures") or 0),
            calls=int(record.get("calls") or 0),
            failures=int(record.get("failures") or 0),
            opened_at=float(record["opened_at"]) if is_open else None,
            cool_down=float(record["cool_down"]) if is_open else None,
        )


def check_config(
    failure_threshold: Any,
    error_rate: Any,
    window_seconds: Any,
    min_calls: Any,
    cool_down_seconds: Any,
    max_cool_down_seconds: Any,
) -> dict[str, Any]:
    """The configuration as the breakers take it; raises ``TypeError``/``ValueError``
    with the C++ core's messages, so every backend refuses the same values the same way."""
    for name, value in (("failure_threshold", failure_threshold), ("min_calls", min_calls)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value}")
    numbers = {"window_seconds": window_seconds, "cool_down_seconds": cool_down_seconds,
               "max_cool_down_seconds": max_cool_down_seconds}  # fmt: skip
    if error_rate is not None:
        numbers["error_rate"] = error_rate
    for name, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if error_rate is not None and not (math.isfinite(error_rate) and 0 < error_rate <= 1):
        raise ValueError(f"error_rate must be a number in (0, 1] or None, got {error_rate!r}")
    for name in ("window_seconds", "cool_down_seconds"):
        if not (math.isfinite(numbers[name]) and numbers[name] > 0):
            raise ValueError(f"{name} must be a positive finite number, got {numbers[name]!r}")
    if not (math.isfinite(max_cool_down_seconds) and max_cool_down_seconds >= cool_down_seconds):
        raise ValueError(
            "max_cool_down_seconds must be a finite number >= cool_down_seconds, "
            f"got {max_cool_down_seconds!r}"
        )
    return {
        "failure_threshold": failure_threshold,
        "error_rate": None if error_rate is None else float(error_rate),
        "window_seconds": float(window_seconds),
        "min_calls": min_calls,
        "cool_down_seconds": float(cool_down_seconds),
        "max_cool_down_seconds": float(max_cool_down_seconds),
    }


def _check_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, got {type(key).__name__}")
    if not key:
        raise ValueError("key (the phone number id) must not be empty")
    return key


def _transition(name: Any) -> str | None:
    if isinstance(name, bytes):
        name = name.decode()
    return name or None


class _Breaker:
    """What both breaker classes share: the checked config and the clock."""

    def __init__(self, config: dict[str, Any], clock: Callable[[], float] | None) -> None:
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {type(clock).__name__}")
        self._clock = clock
        self.config = config
        for name, value in config.items():
            setattr(self, name, value)

    def now(self) -> float:
        """The breaker's clock (looked up at each call, so tests can move time)."""
        return float(self._clock()) if self._clock is not None else time.time()


class CircuitBreaker(_Breaker):
    """The breaker in the C++ core: ``backend="memory"`` (this process) or
    ``backend="sqlite:PATH"`` (every process using that file; the rate
    limiter's file may hold it too). Bad values raise ``ValueError``, wrong
    types ``TypeError``."""

    def __init__(
        self,
        failure_threshold: int = 5,
        error_rate: float | None = 0.5,
        window_seconds: float = 60.0,
        min_calls: int = 20,
        cool_down_seconds: float = 30.0,
        max_cool_down_seconds: float = 300.0,
        backend: str = "memory",
        clock: Callable[[], float] | None = None,
    ) -> None:
        config = check_config(failure_threshold, error_rate, window_seconds, min_calls,
                               cool_down_seconds, max_cool_down_seconds)  # fmt: skip
        if not isinstance(backend, str):
            raise TypeError(f"backend must be a str, got {type(backend).__name__}")
        if backend == "memory":
            self._breaker: _core.CircuitBreaker = _core.MemoryCircuitBreaker(**config)
        elif backend.startswith("sqlite:"):
            path = backend[len("sqlite:") :]
            if not path:
                raise ValueError("backend 'sqlite:PATH' needs a file path, e.g. 'sqlite:/var/run/wacloud.db'")
            self._breaker = _core.SqliteCircuitBreaker(path, **config)
        else:
            raise ValueError(f"backend must be 'memory' or 'sqlite:PATH', got {backend!r}")
        super().__init__(config, clock)
        self.backend = backend

    def allow(self, key: str) -> Permit:
        """May a call for ``key`` go to Meta now? Takes the probe when one is due."""
        allowed, probe, retry_in, transition = self._breaker.allow(_check_key(key), self.now())
        return Permit(allowed, probe, retry_in, _transition(transition))

    def record_success(self, key: str) -> str | None:
        """Meta answered (a permanent error counts too: Meta is up)."""
        return _transition(self._breaker.record_success(_check_key(key), self.now()))

    def record_failure(self, key: str) -> str | None:
        """Meta failed transiently (network, timeout, 5xx, 131000, 2)."""
        return _transition(self._breaker.record_failure(_check_key(key), self.now()))

    def status(self, key: str) -> CircuitStatus:
        return CircuitStatus.from_record(self._breaker.status(_check_key(key)))

    def __repr__(self) -> str:
        return f"CircuitBreaker(backend={self.backend!r}, " + _config_repr(self.config) + ")"


def _config_repr(config: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in config.items())


# The state machine of circuit_breaker.cpp, on one hash per key (fields as in
# CircuitRecord; state 0 closed, 1 open, 2 half-open), atomic because Redis
# runs a script alone. ARGV: op ("allow", "success", "failure"), now (the
# caller's clock, seconds), failure_threshold, error_rate (<= 0: no rate rule),
# window_seconds, min_calls, cool_down_seconds, max_cool_down_seconds, and the
# hash's time to live in milliseconds (an idle closed circuit is forgotten).
# Returns {allowed, probe, "retry_in", transition} for allow, else the transition.
_SCRIPT = """
local key = KEYS[1]
local op, now = ARGV[1], tonumber(ARGV[2])
local threshold, rate, window = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local min_calls, base, max_cool, ttl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]),
  tonumber(ARGV[9])
local f = redis.call('HMGET', key, 'state', 'consecutive_failures', 'window_start', 'calls',
  'failures', 'opened_at', 'cool_down', 'probe_started')
local r = {state = tonumber(f[1]) or 0, consecutive = tonumber(f[2]) or 0,
  window_start = tonumber(f[3]) or 0, calls = tonumber(f[4]) or 0, failures = tonumber(f[5]) or 0,
  opened_at = tonumber(f[6]) or 0, cool_down = tonumber(f[7]) or 0, probe = tonumber(f[8]) or 0}
local function fmt(x) return string.format('%.17g', x) end
local function save()
  redis.call('HSET', key, 'state', r.state, 'consecutive_failures', r.consecutive,
    'window_start', fmt(r.window_start), 'calls', r.calls, 'failures', r.failures,
    'opened_at', fmt(r.opened_at), 'cool_down', fmt(r.cool_down), 'probe_started', fmt(r.probe))
  redis.call('PEXPIRE', key, ttl)
end
local function open(cool)
  r.state, r.opened_at, r.cool_down, r.probe = 1, now, cool, 0
  r.consecutive, r.window_start, r.calls, r.failures = 0, 0, 0, 0
end
if op == 'allow' then
  if r.state == 0 then return {1, 0, '0', ''} end
  if r.state == 1 then
    local ready = r.opened_at + r.cool_down
    if now < ready then return {0, 0, fmt(math.min(ready - now, r.cool_down)), ''} end
    r.state, r.probe = 2, now
    save()
    return {1, 1, '0', 'half_opened'}
  end
  local lost = r.probe + r.cool_down
  if now < lost and now >= r.probe then return {0, 0, fmt(lost - now), ''} end
  r.probe = now
  save()
  return {1, 1, '0', ''}
end
if r.state == 1 then return '' end
if op == 'success' then
  if r.state == 2 then
    redis.call('DEL', key)
    return 'closed'
  end
end
if r.state == 2 then
  open(math.min(r.cool_down * 2, max_cool))
  save()
  return 'reopened'
end
if r.calls == 0 or now >= r.window_start + window or now < r.window_start then
  r.window_start, r.calls, r.failures = now, 0, 0
end
r.calls = r.calls + 1
if op == 'success' then
  r.consecutive = 0
  save()
  return ''
end
r.failures, r.consecutive = r.failures + 1, r.consecutive + 1
if r.consecutive >= threshold or (rate > 0 and r.calls >= min_calls and r.failures >= rate * r.calls) then
  open(base)
  save()
  return 'opened'
end
save()
return ''
"""
_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()
_STATES = {b"0": "closed", b"1": "open", b"2": "half_open"}


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "RedisCircuitBreaker needs the redis package: pip install 'wacloud[redis]'"
        ) from error
    return redis


class RedisCircuitBreaker(_Breaker):
    """The same breaker, shared by every process on every host that uses the
    same Redis and ``prefix``. ``redis`` is a ``redis.Redis`` client or a URL."""

    def __init__(
        self,
        redis: Any,
        failure_threshold: int = 5,
        error_rate: float | None = 0.5,
        window_seconds: float = 60.0,
        min_calls: int = 20,
        cool_down_seconds: float = 30.0,
        max_cool_down_seconds: float = 300.0,
        prefix: str = "wacloud:cb:",
        clock: Callable[[], float] | None = None,
    ) -> None:
        config = check_config(failure_threshold, error_rate, window_seconds, min_calls,
                               cool_down_seconds, max_cool_down_seconds)  # fmt: skip
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if isinstance(redis, str):
            redis = _import_redis().Redis.from_url(redis)
        elif not callable(getattr(redis, "evalsha", None)):
            raise TypeError(f"redis must be a redis.Redis client or a URL, got {type(redis).__name__}")
        super().__init__(config, clock)
        self.redis = redis
        self.prefix = prefix
        # Long enough that only a circuit idle for two of its longest periods is forgotten.
        ttl_ms = math.ceil(2000 * max(config["window_seconds"], config["max_cool_down_seconds"])) + 60000
        self._args = [
            str(config["failure_threshold"]), repr(config["error_rate"] or 0.0),
            repr(config["window_seconds"]), str(config["min_calls"]), repr(config["cool_down_seconds"]),
            repr(config["max_cool_down_seconds"]), str(ttl_ms),
        ]  # fmt: skip

    def _key(self, key: str) -> str:
        _check_key(key)
        if "{" in key or "}" in key:
            raise ValueError(f"key must not contain braces (they form the Redis hash tag), got {key!r}")
        return f"{self.prefix}{{{key}}}"

    def _run(self, op: str, key: str) -> Any:
        args = [op, repr(self.now()), *self._args]
        try:
            return self.redis.evalsha(_SHA, 1, self._key(key), *args)
        except _import_redis().exceptions.NoScriptError:
            # First use on this server (or after SCRIPT FLUSH): EVAL caches it.
            return self.redis.eval(_SCRIPT, 1, self._key(key), *args)

    def allow(self, key: str) -> Permit:
        allowed, probe, retry_in, transition = self._run("allow", key)
        return Permit(int(allowed) == 1, int(probe) == 1, float(retry_in), _transition(transition))

    def record_success(self, key: str) -> str | None:
        return _transition(self._run("success", key))

    def record_failure(self, key: str) -> str | None:
        return _transition(self._run("failure", key))

    def status(self, key: str) -> CircuitStatus:
        raw = self.redis.hgetall(self._key(key))
        fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
        state = fields.get("state", b"0")
        record = {name: float(value) for name, value in fields.items() if name != "state"}
        record["state"] = _STATES.get(state if isinstance(state, bytes) else str(state).encode(), "closed")
        return CircuitStatus.from_record(record)

    def __repr__(self) -> str:
        return f"RedisCircuitBreaker(prefix={self.prefix!r}, " + _config_repr(self.config) + ")"


def create_circuit_breaker(backend: str = "memory", **config: Any) -> CircuitBreaker | RedisCircuitBreaker:
    """The breaker a settings string names, as :func:`wacloud.ratelimit.create_rate_limiter`
    reads it: ``"memory"``, ``"sqlite:PATH"`` or a Redis URL. ``config``: the
    keyword arguments of :class:`CircuitBreaker` (plus ``prefix`` for Redis)."""
    if isinstance(backend, str) and backend.startswith(("redis://", "rediss://", "unix://")):
        return RedisCircuitBreaker(backend, **config)
    return CircuitBreaker(backend=backend, **config)
