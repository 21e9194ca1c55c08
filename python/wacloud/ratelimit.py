"""Rate limiting for sends, as Meta throttles them.

Meta's Cloud API allows each business phone number 80 messages per second by
default, upgraded automatically to up to 1,000 (error 130429 above it), and
throttles sends to one WhatsApp user (the pair rate limit, error 131056,
reported as about one message every 6 seconds). See docs/api/rate-limiting.md.

Three backends share one interface, ``acquire(key, recipient, timeout)`` and
``try_acquire(key, recipient)``, where ``key`` is the phone number id:

* :class:`RateLimiter` with ``backend="memory"``: one process (C++ token buckets);
* :class:`RateLimiter` with ``backend="sqlite:PATH"``: every process on one host;
* :class:`RedisRateLimiter`: every process on every host (GCRA in one Lua script).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from . import _core

__all__ = ["RateLimiter", "RedisRateLimiter", "create_rate_limiter"]


def _number(name: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def _check_config(
    per_second: Any, per_hour: Any, burst: Any, pair_limit: Any, pair_period: Any
) -> tuple[float, float | None, float | None, float | None, float]:
    """Types and values, with the messages the C++ core uses, so every backend
    refuses the same configurations the same way."""
    rate = _number("per_second", per_second)
    hour = _number("per_hour", per_hour, optional=True)
    capacity = _number("burst", burst, optional=True)
    pair = _number("pair_limit", pair_limit, optional=True)
    period = _number("pair_period", pair_period)
    assert rate is not None and period is not None
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"per_second must be a positive finite number, got {per_second!r}")
    for name, value in (("burst", capacity), ("per_hour", hour), ("pair_limit", pair)):
        if value is not None and not (math.isfinite(value) and value >= 1):
            raise ValueError(f"{name} must be a finite number >= 1, got {value!r}")
    if not (math.isfinite(period) and period > 0):
        raise ValueError(f"pair_period must be a positive finite number, got {pair_period!r}")
    return rate, hour, capacity, pair, period


def _check_call(key: Any, recipient: Any, timeout: Any = None) -> float | None:
    if not isinstance(key, str) or not isinstance(recipient, str):
        raise TypeError("key and recipient must be str")
    if not key:
        raise ValueError("key (the phone number id) must not be empty")
    seconds = _number("timeout", timeout, optional=True)
    if seconds is not None and not seconds >= 0:  # also refuses NaN
        raise ValueError(f"timeout must be None or a number >= 0, got {timeout!r}")
    return seconds


class RateLimiter:
    """Token buckets per phone number id (``key``): ``per_second`` with a
    ``burst`` capacity (default ``per_second``), optionally ``per_hour``, and
    optionally ``pair_limit`` sends per ``pair_period`` seconds to one recipient.

    ``backend="memory"`` limits this process; ``backend="sqlite:PATH"`` shares
    the budget with every process that uses the same file (e.g. Celery workers
    on one host). Bad values raise ``ValueError``, wrong types ``TypeError``.
    """

    def __init__(
        self,
        per_second: float = 80,
        per_hour: float | None = None,
        burst: float | None = None,
        backend: str = "memory",
        pair_limit: float | None = None,
        pair_period: float = 6.0,
    ) -> None:
        rate, hour, capacity, pair, period = _check_config(
            per_second, per_hour, burst, pair_limit, pair_period
        )
        if not isinstance(backend, str):
            raise TypeError(f"backend must be a str, got {type(backend).__name__}")
        config = {
            "per_second": rate,
            "per_hour": hour,
            "burst": capacity,
            "pair_limit": pair,
            "pair_period": period,
        }
        if backend == "memory":
            self._limiter: _core.RateLimiter = _core.MemoryRateLimiter(**config)
        elif backend.startswith("sqlite:"):
            path = backend[len("sqlite:") :]
            if not path:
                raise ValueError(
                    "backend 'sqlite:PATH' needs a file path, e.g. 'sqlite:/var/run/wacloud-rate.db'"
                )
            self._limiter = _core.SqliteRateLimiter(path, **config)
        else:
            raise ValueError(f"backend must be 'memory' or 'sqlite:PATH', got {backend!r}")
        self.backend = backend
        self.per_second = rate
        self.per_hour = hour
        self.burst = capacity if capacity is not None else rate
        self.pair_limit = pair
        self.pair_period = period

    @property
    def native(self) -> _core.RateLimiter:
        """The C++ limiter, for the Graph client to call without Python in the way."""
        return self._limiter

    def acquire(self, key: str, recipient: str = "", timeout: float | None = None) -> bool:
        """Wait until a send from ``key`` to ``recipient`` is allowed and take it.

        ``timeout=None`` waits as long as needed. Returns ``False``, taking
        nothing, when the wait would outlast ``timeout`` (at once: tokens only
        arrive with time). The wait happens in C++ with the GIL released."""
        seconds = _check_call(key, recipient, timeout)
        return self._limiter.acquire(key, recipient, seconds)

    def try_acquire(self, key: str, recipient: str = "") -> bool:
        """Take a token only if one is available now."""
        _check_call(key, recipient)
        return self._limiter.try_acquire(key, recipient)

    def __repr__(self) -> str:
        return (
            f"RateLimiter(per_second={self.per_second:g}, per_hour={_g(self.per_hour)}, "
            f"burst={self.burst:g}, backend={self.backend!r}, pair_limit={_g(self.pair_limit)}, "
            f"pair_period={self.pair_period:g})"
        )


def _g(value: float | None) -> str:
    return "None" if value is None else f"{value:g}"


# GCRA (generic cell rate algorithm): each bucket is one key holding its
# "theoretical arrival time" (TAT) in microseconds of Redis TIME, the one clock
# all hosts share. A send fits a bucket when TAT + interval - tolerance <= now
# (interval = 1/rate, tolerance = burst * interval), and moves its TAT to
# max(TAT, now) + interval. KEYS[1] is the per-second bucket: when it alone is
# short by at most ARGV[1] microseconds, the send is granted for that future
# slot (the caller sleeps until it), as the C++ limiters do; a refusing pair or
# hourly bucket takes nothing. Every bucket is checked before any is updated.
# Keys expire once their TAT has passed (an expired bucket is a full one), so
# memory stays bounded. ARGV[2..]: interval and tolerance per key, in order.
# Returns {granted (0/1), "<wait in microseconds>"}.
_GCRA_SCRIPT = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local max_reserve = tonumber(ARGV[1])
local second_wait, other_wait = 0, 0
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat + interval
  local wait = tats[i] - tolerance - now
  if wait < 0 then wait = 0 end
  if i == 1 then second_wait = wait elseif wait > other_wait then other_wait = wait end
end
if other_wait > 0 or second_wait > max_reserve then
  return {0, string.format('%.17g', math.max(second_wait, other_wait))}
end
for i = 1, #KEYS do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1
  redis.call('SET', KEYS[i], string.format('%.17g', tats[i]), 'PX', ttl)
end
return {1, string.format('%.17g', second_wait)}
"""
_GCRA_SHA = hashlib.sha1(_GCRA_SCRIPT.encode()).hexdigest()


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("RedisRateLimiter needs the redis package: pip install wacloud[redis]") from error
    return redis


class RedisRateLimiter:
    """The same limits as :class:`RateLimiter`, shared by every process on
    every host that uses the same Redis and ``prefix``.

    ``redis`` is a ``redis.Redis`` client or a URL (``redis://host:6379/0``).
    The keys of one phone number id share a Redis Cluster hash tag, so the
    script that checks them runs on one node."""

    def __init__(
        self,
        redis: Any,
        per_second: float = 80,
        per_hour: float | None = None,
        burst: float | None = None,
        pair_limit: float | None = None,
        pair_period: float = 6.0,
        prefix: str = "wacloud:rl:",
    ) -> None:
        rate, hour, capacity, pair, period = _check_config(
            per_second, per_hour, burst, pair_limit, pair_period
        )
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if isinstance(redis, str):
            redis = _import_redis().Redis.from_url(redis)
        elif not callable(getattr(redis, "evalsha", None)):
            raise TypeError(f"redis must be a redis.Redis client or a URL, got {type(redis).__name__}")
        self.redis = redis
        self.prefix = prefix
        self.per_second = rate
        self.per_hour = hour
        self.burst = capacity if capacity is not None else rate
        self.pair_limit = pair
        self.pair_period = period
        # (interval, tolerance) in microseconds, as the script wants them.
        self._second = self._gcra(rate, self.burst)
        self._hour = self._gcra(hour / 3600.0, hour) if hour is not None else None
        self._pair = self._gcra(pair / period, pair) if pair is not None else None

    @staticmethod
    def _gcra(rate: float, capacity: float) -> tuple[str, str]:
        interval = 1e6 / rate
        return repr(interval), repr(interval * capacity)

    def _request(self, key: str, recipient: str) -> tuple[list[str], list[str]]:
        if "{" in key or "}" in key:
            raise ValueError(f"key must not contain braces (they form the Redis hash tag), got {key!r}")
        base = f"{self.prefix}{{{key}}}"
        keys, args = [base + ":s"], list(self._second)
        if self._hour is not None:
            keys.append(base + ":h")
            args.extend(self._hour)
        if self._pair is not None and recipient:
            keys.append(f"{base}:p:{recipient}")
            args.extend(self._pair)
        return keys, args

    def _decide(self, key: str, recipient: str, max_reserve: float) -> tuple[bool, float]:
        """(granted, seconds to wait): granted for a slot ``wait`` ahead, or
        refused with nothing taken and ``wait`` until it may be granted."""
        keys, limits = self._request(key, recipient)
        # Microseconds; a finite stand-in for "no timeout" keeps Lua's tonumber happy.
        args = [repr(min(max_reserve, 1e15) * 1e6), *limits]
        try:
            granted, wait = self.redis.evalsha(_GCRA_SHA, len(keys), *keys, *args)
        except _import_redis().exceptions.NoScriptError:
            # First use on this server (or after SCRIPT FLUSH): EVAL caches it.
            granted, wait = self.redis.eval(_GCRA_SCRIPT, len(keys), *keys, *args)
        return int(granted) == 1, float(wait) / 1e6

    def acquire(self, key: str, recipient: str = "", timeout: float | None = None) -> bool:
        """Same contract as :meth:`RateLimiter.acquire`: sleeps the wait the
        script computed, never polls faster."""
        seconds = _check_call(key, recipient, timeout)
        deadline = math.inf if seconds is None else time.monotonic() + seconds
        while True:
            now = time.monotonic()
            granted, wait = self._decide(key, recipient, deadline - now)
            if granted:
                if wait > 0:
                    time.sleep(wait)
                return True
            if now + wait > deadline:
                return False
            time.sleep(max(wait, 1e-6))

    def try_acquire(self, key: str, recipient: str = "") -> bool:
        """Take a token only if one is available now."""
        _check_call(key, recipient)
        return self._decide(key, recipient, 0.0)[0]

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter(per_second={self.per_second:g}, per_hour={_g(self.per_hour)}, "
            f"burst={self.burst:g}, pair_limit={_g(self.pair_limit)}, pair_period={self.pair_period:g}, "
            f"prefix={self.prefix!r})"
        )


def create_rate_limiter(backend: str = "memory", **limits: Any) -> RateLimiter | RedisRateLimiter:
    """The limiter a settings string names: ``"memory"``, ``"sqlite:PATH"`` or
    a Redis URL (``redis://``, ``rediss://``, ``unix://``). ``limits`` are the
    keyword arguments of :class:`RateLimiter` (plus ``prefix`` for Redis)."""
    if isinstance(backend, str) and backend.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(backend, **limits)
    return RateLimiter(backend=backend, **limits)
