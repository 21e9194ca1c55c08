"""Help desk sessions in Redis (``SESSION_BACKEND = "redis"``), the same fields as the
``HelpdeskSession`` rows: one hash per contact and account, and one sorted set of the hashes
by last activity, so the cleanup finds the expired ones without scanning the keyspace.

Times come from Django's clock (``timezone.now``), not Redis's, so expiry follows the same
clock as the database store; no Redis TTL is set (the cleanup task deletes). A contact's
messages are filed one at a time under a Redis lock on its session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from ...exceptions import SettingError
from .. import config

DEFAULT_PREFIX = "wacloud:helpdesk:"
#: How long a lock is held at most (a crashed worker frees it then) and waited for.
LOCK_SECONDS, LOCK_WAIT_SECONDS = 60, 30
_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
# Deletes the hashes silent since ARGV[1] and their index entries, in one step: a session
# touched meanwhile has a newer score and is not in the range.
_DELETE_SILENT = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for _, key in ipairs(keys) do
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], key)
end
return #keys
"""
_clients: dict[str, Any] = {}


@dataclass
class RedisSession:
    key: str
    ticket_number: str = ""
    is_active: bool = False
    started_at: datetime = _EPOCH
    last_activity_at: datetime = _EPOCH


def redis_url() -> str:
    url = config.helpdesk_settings().get("SESSION_REDIS_URL")
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingError(
            "HELPDESK",
            'WACLOUD["HELPDESK"]["SESSION_REDIS_URL"] must be a redis:// URL when SESSION_BACKEND '
            f'is "redis", got {url!r}',
        )
    return url


def _prefix() -> str:
    return config.helpdesk_settings().get("SESSION_REDIS_PREFIX") or DEFAULT_PREFIX


def client() -> Any:
    """One client (and connection pool) per URL for the process."""
    url = redis_url()
    if url not in _clients:
        try:
            import redis
        except ImportError as error:
            raise SettingError(
                "HELPDESK",
                'WACLOUD["HELPDESK"]["SESSION_BACKEND"] = "redis" needs the redis package: '
                'pip install "wacloud[redis]"',
            ) from error
        _clients[url] = redis.Redis.from_url(url, socket_timeout=10)
    return _clients[url]


def _stamp(moment: datetime) -> float:
    return moment.timestamp()


def _moment(raw: bytes | None) -> datetime:
    return datetime.fromtimestamp(float(raw), tz=dt_timezone.utc) if raw else _EPOCH


def _index() -> str:
    return f"{_prefix()}sessions"


@contextmanager
def locked_session(account_id: int, contact_id: int) -> Iterator[RedisSession]:
    redis = client()
    key = f"{_prefix()}session:{account_id}:{contact_id}"
    with redis.lock(f"{key}:lock", timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS):
        fields = redis.hgetall(key)
        yield RedisSession(
            key=key,
            ticket_number=fields.get(b"ticket_number", b"").decode(),
            is_active=fields.get(b"is_active") == b"1",
            started_at=_moment(fields.get(b"started_at")),
            last_activity_at=_moment(fields.get(b"last_activity_at")),
        )


def save(session: RedisSession) -> None:
    mapping = {
        "ticket_number": session.ticket_number,
        "is_active": "1" if session.is_active else "0",
        "started_at": repr(_stamp(session.started_at)),
        "last_activity_at": repr(_stamp(session.last_activity_at)),
    }
    pipe = client().pipeline(transaction=True)
    pipe.hset(session.key, mapping=mapping)
    pipe.zadd(_index(), {session.key: _stamp(session.last_activity_at)})
    pipe.execute()


def delete_silent_since(cutoff: datetime) -> int:
    return int(client().eval(_DELETE_SILENT, 1, _index(), repr(_stamp(cutoff))))
