"""The circuit breaker through wacloud.circuit, on each backend: memory and SQLite
(C++ core) and Redis (Lua). The Redis cases carry the ``integration`` marker and
need Redis at WACLOUD_TEST_REDIS_URL (default 127.0.0.1:6379/15); when selected,
an unreachable Redis fails them, naming the URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from wacloud.circuit import (
    CircuitBreaker,
    CircuitState,
    RedisCircuitBreaker,
    create_circuit_breaker,
)

REDIS_URL = os.environ.get("WACLOUD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CONFIG = {
    "failure_threshold": 3,
    "error_rate": 0.5,
    "window_seconds": 60.0,
    "min_calls": 10,
    "cool_down_seconds": 30.0,
    "max_cool_down_seconds": 100.0,
}


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} (WACLOUD_TEST_REDIS_URL) is unreachable: {error}", pytrace=False)
    prefix = f"wacloud:test:cb:{uuid.uuid4().hex}:"
    yield client, prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.integration)])
def make(request, tmp_path: Path, clock: FakeClock):
    """Builds breakers of the backend under test; two built by one test share their state
    (the SQLite file, the Redis prefix), as two processes would; in memory they are one."""
    built: dict[str, CircuitBreaker] = {}

    def build(**overrides):
        config = {**CONFIG, **overrides}
        if request.param == "memory":
            key = json.dumps(config, sort_keys=True)
            if key not in built:
                built[key] = CircuitBreaker(backend="memory", clock=clock, **config)
            return built[key]
        if request.param == "sqlite":
            return CircuitBreaker(backend=f"sqlite:{tmp_path / 'circuits.db'}", clock=clock, **config)
        client, prefix = request.getfixturevalue("redis_client")
        return RedisCircuitBreaker(client, prefix=prefix, clock=clock, **config)

    build.backend = request.param
    return build


def fail(breaker, times: int, key: str = "pn") -> list[str | None]:
    return [breaker.record_failure(key) for _ in range(times)]


def test_consecutive_failures_open_the_circuit_for_that_key_only(make, clock):
    breaker = make()
    assert fail(breaker, 2) == [None, None]
    assert breaker.record_success("pn") is None  # breaks the run
    assert fail(breaker, 3) == [None, None, "opened"]
    clock.advance(10)
    permit = breaker.allow("pn")
    assert not permit.allowed and permit.retry_in == pytest.approx(20)
    assert breaker.allow("other").allowed
    status = breaker.status("pn")
    assert status.state is CircuitState.OPEN and status.retry_at == pytest.approx(clock.now + 20)


def test_the_error_rate_opens_it_once_the_window_holds_enough_calls(make):
    breaker = make(failure_threshold=100)
    for i in range(10):  # alternating: 5 failures in 10 calls, never two in a row
        assert (breaker.record_failure("pn") if i % 2 == 0 else breaker.record_success("pn")) is None
    assert breaker.record_failure("pn") == "opened"  # 6/11 >= 0.5


def test_a_window_that_ended_is_forgotten(make, clock):
    breaker = make(failure_threshold=100)
    fail(breaker, 9)
    clock.advance(61)
    for _ in range(9):
        breaker.record_success("pn")
    assert fail(breaker, 8) == [None] * 8
    assert breaker.status("pn").calls == 17
    assert breaker.record_failure("pn") == "opened"  # 9/18


def test_exactly_one_probe_after_the_cool_down_and_its_success_closes(make, clock):
    breaker, other_process = make(), make()
    fail(breaker, 3)
    clock.advance(29.9)
    assert not other_process.allow("pn").allowed
    clock.advance(0.1)
    probe = other_process.allow("pn")
    assert probe.allowed and probe.probe and probe.transition == "half_opened"
    refused = breaker.allow("pn")
    assert not refused.allowed and refused.retry_in == pytest.approx(30)
    assert breaker.status("pn").state is CircuitState.HALF_OPEN
    assert other_process.record_success("pn") == "closed"
    assert breaker.allow("pn") == breaker.allow("pn")
    assert breaker.allow("pn").allowed and not breaker.allow("pn").probe
    assert breaker.status("pn").state is CircuitState.CLOSED


def test_a_failed_probe_reopens_with_a_doubling_capped_cool_down(make, clock):
    breaker = make()
    fail(breaker, 3)
    for expected in (60.0, 100.0, 100.0):
        clock.advance(breaker.status("pn").cool_down)
        assert breaker.allow("pn").probe
        assert breaker.record_failure("pn") == "reopened"
        assert breaker.status("pn").cool_down == expected
    clock.advance(100)
    assert breaker.allow("pn").probe
    assert breaker.record_success("pn") == "closed"
    fail(breaker, 3)
    assert breaker.status("pn").cool_down == 30.0  # a new opening starts from the base again


def test_a_lost_probe_is_replaced_after_one_cool_down(make, clock):
    breaker = make()
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.allow("pn").probe
    clock.advance(29)
    assert not breaker.allow("pn").allowed
    clock.advance(1)
    replacement = breaker.allow("pn")
    assert replacement.probe and replacement.transition is None


def test_late_outcomes_while_open_change_nothing(make, clock):
    breaker = make()
    fail(breaker, 3)
    opened_at = clock.now
    clock.advance(5)
    assert breaker.record_success("pn") is None and breaker.record_failure("pn") is None
    status = breaker.status("pn")
    assert status.state is CircuitState.OPEN and status.opened_at == opened_at and status.cool_down == 30


def test_without_an_error_rate_only_a_run_opens_it(make):
    breaker = make(error_rate=None)
    for _ in range(30):
        fail(breaker, 2)
        breaker.record_success("pn")
    assert breaker.status("pn").state is CircuitState.CLOSED


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"failure_threshold": 0}, ValueError, "failure_threshold"),
        ({"failure_threshold": 2.5}, TypeError, "failure_threshold"),
        ({"error_rate": 1.5}, ValueError, "error_rate"),
        ({"error_rate": "half"}, TypeError, "error_rate"),
        ({"window_seconds": 0}, ValueError, "window_seconds"),
        ({"min_calls": 0}, ValueError, "min_calls"),
        ({"cool_down_seconds": float("inf")}, ValueError, "cool_down_seconds"),
        ({"max_cool_down_seconds": 10}, ValueError, "max_cool_down_seconds"),
    ],
)
def test_bad_configuration_is_refused_the_same_by_every_backend(change, error, match):
    for build in (
        lambda config: CircuitBreaker(**config),
        lambda config: RedisCircuitBreaker("redis://127.0.0.1:1/0", **config),  # no I/O before use
    ):
        with pytest.raises(error, match=match):
            build({**CONFIG, **change})


def test_bad_keys_and_backends_are_refused():
    breaker = CircuitBreaker()
    with pytest.raises(ValueError, match="key"):
        breaker.allow("")
    with pytest.raises(TypeError, match="key"):
        breaker.record_failure(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend"):
        CircuitBreaker(backend="postgres")
    with pytest.raises(ValueError, match="braces"):
        RedisCircuitBreaker("redis://127.0.0.1:1/0").allow("{pn}")
    assert isinstance(create_circuit_breaker("redis://127.0.0.1:1/0"), RedisCircuitBreaker)
    assert create_circuit_breaker("memory", failure_threshold=2).failure_threshold == 2


_CHILD = """
import json, sys
from wacloud.circuit import CircuitBreaker
config = json.loads(sys.argv[2])
breaker = CircuitBreaker(backend=sys.argv[1], clock=lambda: float(sys.argv[3]), **config)
print(json.dumps(breaker.allow("pn").probe))
"""


def test_sqlite_processes_on_one_host_share_the_circuit_and_its_one_probe(tmp_path, clock):
    backend = f"sqlite:{tmp_path / 'circuits.db'}"
    breaker = CircuitBreaker(backend=backend, clock=clock, **CONFIG)
    fail(breaker, 3)
    due = str(clock.now + 30)
    command = [sys.executable, "-c", _CHILD, backend, json.dumps(CONFIG), due]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    probes = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    assert all(child.returncode == 0 for child in children)
    assert probes.count(True) == 1, probes
    assert breaker.status("pn").state is CircuitState.HALF_OPEN
