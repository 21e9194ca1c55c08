"""RedisRateLimiter against the real Redis (WACLOUD_TEST_REDIS_URL, default
127.0.0.1:6379/15). An unreachable Redis fails these tests (see conftest)."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from ratelimit_support import EXPECTED, RATE, SECONDS, granted_in, run_processes
from wacloud.ratelimit import RedisRateLimiter

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url):
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def prefix(client):
    """A key prefix no other test uses; its keys are deleted afterwards."""
    value = f"wacloud:test:rl:{uuid.uuid4().hex}:"
    yield value
    keys = list(client.scan_iter(match=value + "*"))
    if keys:
        client.delete(*keys)


def test_granted_count_matches_the_rate(client, prefix):
    limiter = RedisRateLimiter(client, per_second=RATE, burst=1, prefix=prefix)
    granted = granted_in(limiter, SECONDS)
    assert abs(granted - EXPECTED) <= 0.05 * EXPECTED, granted


def test_two_processes_share_one_budget(redis_url, prefix):
    options = {"backend": redis_url, "per_second": RATE, "burst": 1, "prefix": prefix}
    counts = run_processes(options, processes=2, seconds=SECONDS)
    assert abs(sum(counts) - EXPECTED) <= 0.05 * EXPECTED, counts
    assert min(counts) > 0.25 * EXPECTED, counts


def test_burst_try_acquire_and_keys(client, prefix):
    limiter = RedisRateLimiter(client, per_second=0.5, burst=3, prefix=prefix)
    assert [limiter.try_acquire("pn") for _ in range(4)] == [True, True, True, False]
    assert limiter.try_acquire("other-pn")
    # One key per bucket, sharing the phone number id's cluster hash tag, and
    # each expires once its bucket would be full again.
    assert sorted(client.scan_iter(match=prefix + "*")) == [
        f"{prefix}{{other-pn}}:s".encode(),
        f"{prefix}{{pn}}:s".encode(),
    ]
    assert 0 < client.pttl(f"{prefix}{{pn}}:s") <= 6001


def test_pair_limit_is_per_recipient(client, prefix):
    limiter = RedisRateLimiter(client, per_second=100, burst=2, pair_limit=1, pair_period=60, prefix=prefix)
    assert limiter.try_acquire("pn", "alice")
    started = time.monotonic()
    assert limiter.acquire("pn", "alice", timeout=0.5) is False  # the pair needs 60 s: refused at once
    assert time.monotonic() - started < 0.25
    assert limiter.try_acquire("pn", "bob")  # the refused call left the per-second token alone
    assert not limiter.try_acquire("pn", "bob")


def test_acquire_waits_for_the_pair_period(client, prefix):
    limiter = RedisRateLimiter(client, per_second=100, pair_limit=1, pair_period=0.3, prefix=prefix)
    assert limiter.acquire("pn", "alice")
    started = time.monotonic()
    assert limiter.acquire("pn", "alice", timeout=2.0)
    assert 0.2 < time.monotonic() - started < 0.8


def test_per_hour_limit(client, prefix):
    limiter = RedisRateLimiter(client, per_second=1000, per_hour=3, prefix=prefix)
    assert [limiter.try_acquire("pn") for _ in range(4)] == [True, True, True, False]
    assert limiter.acquire("pn", timeout=1.0) is False


def test_refused_acquire_reserves_nothing(client, prefix):
    limiter = RedisRateLimiter(client, per_second=2, burst=1, prefix=prefix)
    assert limiter.try_acquire("pn")
    assert limiter.acquire("pn", timeout=0.2) is False
    started = time.monotonic()
    assert limiter.acquire("pn", timeout=2.0) is True
    assert 0.2 < time.monotonic() - started < 0.75


def test_script_is_loaded_again_after_a_flush(client, prefix):
    limiter = RedisRateLimiter(client, per_second=100, prefix=prefix)
    assert limiter.try_acquire("pn")
    client.script_flush()  # EVALSHA now fails with NOSCRIPT; the limiter falls back to EVAL
    assert limiter.try_acquire("pn")
    assert limiter.try_acquire("pn")


def test_decode_responses_client_works(redis_url, prefix):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        limiter = RedisRateLimiter(client, per_second=1, burst=1, prefix=prefix)
        assert limiter.try_acquire("pn")
        assert not limiter.try_acquire("pn")
    finally:
        client.close()
