"""The in-process and SQLite rate limiters (C++ core) through wacloud.ratelimit."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import wacloud
from ratelimit_support import EXPECTED, RATE, SECONDS, granted_in, run_processes
from wacloud import _core
from wacloud.ratelimit import RateLimiter, RedisRateLimiter, create_rate_limiter


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> str:
    return f"sqlite:{tmp_path / 'limits.db'}"


# ---- accuracy ---------------------------------------------------------------


@pytest.mark.serial
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_granted_count_matches_the_rate(backend, sqlite_backend):
    limiter = RateLimiter(
        per_second=RATE, burst=1, backend="memory" if backend == "memory" else sqlite_backend
    )
    granted = granted_in(limiter, SECONDS)
    assert abs(granted - EXPECTED) <= 0.05 * EXPECTED, granted


@pytest.mark.serial
def test_sqlite_budget_is_shared_by_two_processes(sqlite_backend):
    options = {"backend": sqlite_backend, "per_second": RATE, "burst": 1}
    counts = run_processes(options, processes=2, seconds=SECONDS)
    assert abs(sum(counts) - EXPECTED) <= 0.05 * EXPECTED, counts
    assert min(counts) > 0.25 * EXPECTED, counts  # both really drew on it


def test_sqlite_limiter_survives_fork(sqlite_backend):
    # Celery's prefork pool forks after the limiter may have been created.
    limiter = RateLimiter(per_second=0.001, burst=3, backend=sqlite_backend)
    assert limiter.try_acquire("pn")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            results = [limiter.try_acquire("pn") for _ in range(3)]
            os.write(write_end, json.dumps(results).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_results = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert child_results == [True, True, False]
    assert not limiter.try_acquire("pn")  # the parent sees what the child spent


# ---- semantics --------------------------------------------------------------


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_try_acquire_takes_the_burst_then_refuses(backend, sqlite_backend):
    limiter = RateLimiter(
        per_second=0.5, burst=3, backend="memory" if backend == "memory" else sqlite_backend
    )
    assert [limiter.try_acquire("pn") for _ in range(4)] == [True, True, True, False]
    assert limiter.try_acquire("other-pn")  # each phone number id has its own budget


def test_burst_defaults_to_per_second():
    limiter = RateLimiter(per_second=5)
    assert sum(limiter.try_acquire("pn") for _ in range(10)) == 5
    assert limiter.burst == 5


def test_per_hour_caps_sends_after_the_per_second_bucket_refills():
    limiter = RateLimiter(per_second=1000, per_hour=3)
    assert [limiter.try_acquire("pn") for _ in range(4)] == [True, True, True, False]
    assert limiter.acquire("pn", timeout=1.0) is False  # next hourly token is 20 minutes away


def test_pair_limit_is_per_recipient():
    limiter = RateLimiter(per_second=100, pair_limit=1, pair_period=60)
    assert limiter.try_acquire("pn", "15550001111")
    assert not limiter.try_acquire("pn", "15550001111")
    assert limiter.try_acquire("pn", "15550002222")
    assert limiter.try_acquire("pn")  # no recipient: no pair limit


def test_timeout_returns_false_at_once_and_takes_nothing():
    limiter = RateLimiter(per_second=1, burst=2, pair_limit=1, pair_period=60)
    assert limiter.try_acquire("pn", "alice")
    started = time.monotonic()
    assert limiter.acquire("pn", "alice", timeout=0.5) is False  # the pair needs 60 s
    assert time.monotonic() - started < 0.25
    assert limiter.try_acquire("pn", "bob")  # the second burst token was left alone


def test_refused_acquire_reserves_nothing():
    limiter = RateLimiter(per_second=2, burst=1)
    assert limiter.try_acquire("pn")
    assert limiter.acquire("pn", timeout=0.2) is False  # next token in 0.5 s
    started = time.monotonic()
    assert limiter.acquire("pn", timeout=2.0) is True
    waited = time.monotonic() - started
    # 0.5 s minus the time already spent; a reservation left behind by the
    # refused call would have pushed this to about 1 s.
    assert 0.2 < waited < 0.75, waited


def test_acquire_waits_for_the_pair_limit():
    limiter = RateLimiter(per_second=100, pair_limit=1, pair_period=0.3)
    assert limiter.acquire("pn", "alice")
    started = time.monotonic()
    assert limiter.acquire("pn", "alice", timeout=2.0)
    assert 0.2 < time.monotonic() - started < 0.8


@pytest.mark.serial
def test_acquire_releases_the_gil():
    limiter = RateLimiter(per_second=2, burst=1)
    assert limiter.try_acquire("pn")
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (limiter.acquire("pn"), done.set()))
    started = last = time.monotonic()
    worst_stall = 0.0
    waiter.start()
    while not done.is_set():  # this thread keeps running while the other waits in C++
        now = time.monotonic()
        worst_stall, last = max(worst_stall, now - last), now
    waiter.join()
    assert last - started > 0.3  # the acquire really blocked for the next token
    assert worst_stall < 0.2, worst_stall


@pytest.mark.serial
def test_threads_share_one_budget():
    limiter = RateLimiter(per_second=RATE, burst=5)
    counts = [0] * 4
    started = time.monotonic()

    def work(index: int) -> None:
        while time.monotonic() - started < 1.0:
            counts[index] += limiter.acquire("pn", timeout=0.2)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert sum(counts) <= 5 + RATE * elapsed + 1
    assert sum(counts) >= 0.95 * (5 + RATE * 1.0)


# ---- configuration and arguments --------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"per_second": 0}, "per_second"),
        ({"per_second": -3}, "per_second"),
        ({"per_second": math.nan}, "per_second"),
        ({"per_second": math.inf}, "per_second"),
        ({"burst": 0.5}, "burst"),
        ({"per_hour": 0}, "per_hour"),
        ({"pair_limit": 0}, "pair_limit"),
        ({"pair_limit": 1, "pair_period": 0}, "pair_period"),
        ({"backend": "postgres"}, "backend"),
        ({"backend": "sqlite:"}, "sqlite:PATH"),
    ],
)
def test_bad_config_raises_value_error(kwargs, field):
    with pytest.raises(ValueError, match=field):
        RateLimiter(**kwargs)
    redis_kwargs = {k: v for k, v in kwargs.items() if k != "backend"}
    if redis_kwargs:
        with pytest.raises(ValueError, match=field):
            RedisRateLimiter("redis://127.0.0.1:6379/0", **redis_kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"per_second": "80"}, {"per_second": True}, {"burst": [1]}, {"backend": 1}]
)
def test_wrong_types_raise_type_error(kwargs):
    with pytest.raises(TypeError):
        RateLimiter(**kwargs)


def test_core_maps_invalid_config_to_value_error():
    # The binding's own check, for callers that skip the Python layer.
    with pytest.raises(ValueError, match="per_second"):
        _core.MemoryRateLimiter(per_second=0)
    with pytest.raises(ValueError, match="path"):
        _core.SqliteRateLimiter("")
    with pytest.raises(ValueError, match="timeout"):
        _core.MemoryRateLimiter().acquire("pn", "", -1.0)
    with pytest.raises(TypeError):
        _core.RateLimiter()  # abstract


def test_sqlite_failure_raises_wacloud_error(tmp_path):
    with pytest.raises(wacloud.WacloudError, match="unable to open database file"):
        RateLimiter(backend=f"sqlite:{tmp_path / 'missing-dir' / 'limits.db'}")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 4096)
    with pytest.raises(wacloud.WacloudError, match="not a database"):
        RateLimiter(backend=f"sqlite:{junk}")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda lim: lim.acquire(""), ValueError),
        (lambda lim: lim.try_acquire(""), ValueError),
        (lambda lim: lim.acquire("pn", timeout=-1), ValueError),
        (lambda lim: lim.acquire("pn", timeout=math.nan), ValueError),
        (lambda lim: lim.acquire("pn", timeout="1"), TypeError),
        (lambda lim: lim.acquire(42), TypeError),
        (lambda lim: lim.try_acquire("pn", None), TypeError),
    ],
)
def test_bad_call_arguments(call, error):
    with pytest.raises(error):
        call(RateLimiter())


def test_redis_limiter_checks_its_arguments_before_any_io():
    with pytest.raises(TypeError, match="redis"):
        RedisRateLimiter(object())
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")  # from_url does not connect
    with pytest.raises(ValueError, match="braces"):
        limiter.try_acquire("pn{1}")
    with pytest.raises(ValueError, match="key"):
        limiter.acquire("")


def test_repr_and_factory(sqlite_backend):
    limiter = RateLimiter(per_second=80, per_hour=1000, pair_limit=1)
    assert repr(limiter) == (
        "RateLimiter(per_second=80, per_hour=1000, burst=80, backend='memory', pair_limit=1, pair_period=6)"
    )
    assert isinstance(limiter.native, _core.RateLimiter)
    assert isinstance(create_rate_limiter("memory", per_second=5), RateLimiter)
    assert create_rate_limiter(sqlite_backend).backend == sqlite_backend
    redis_limiter = create_rate_limiter("redis://127.0.0.1:6379/0", per_second=5, prefix="x:")
    assert isinstance(redis_limiter, RedisRateLimiter)
    assert repr(redis_limiter).startswith("RedisRateLimiter(per_second=5, ")


def test_idle_pair_buckets_are_evicted():
    native = _core.MemoryRateLimiter(per_second=1000, pair_limit=1, pair_period=1.0)
    for index in range(200):
        assert native.try_acquire("pn", f"recipient-{index}")
    assert native.tracked_buckets == 201
    time.sleep(1.1)  # every pair bucket refills, and a sweep is due
    assert native.try_acquire("pn", "late")
    assert native.tracked_buckets <= 2


OPEN_AT_ONCE = r"""
import sys, time
from wacloud.ratelimit import RateLimiter
path, start = sys.argv[1], float(sys.argv[2])
while time.time() < start:
    pass  # spin: the processes must hit the new file in the same instant
RateLimiter(per_second=10, backend="sqlite:" + path).try_acquire("pn")
"""


@pytest.mark.serial
def test_many_processes_can_open_a_new_sqlite_file_at_once(tmp_path):
    # Celery workers start together: creating the file's table must wait for the
    # lock, not fail with "database is locked".
    for attempt in range(10):
        path = tmp_path / f"limits-{attempt}.db"
        start = time.time() + 1.0
        children = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT_ONCE, str(path), repr(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        outcomes = [(child.communicate(timeout=60)[1], child.returncode) for child in children]
        assert [code for _, code in outcomes] == [0] * len(children), [err for err, _ in outcomes]
