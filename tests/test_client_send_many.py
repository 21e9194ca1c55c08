"""send_many: input order, bounded concurrency on one pool, per-request retries,
mixed failures, rate limiters, and the GIL released."""

import random
import threading
import time

import pytest

import wacloud
from graph_stub import GraphStub, Reply, graph_error
from wacloud.errors import DeliveryUnknown, InvalidParameter, RateLimited, RecipientError, TransientError
from wacloud.messages import Image, Text

TOKEN = "EAAG-secret-token-000"
PHONE_ID = "106540352242922"
MESSAGES = f"/v25.0/{PHONE_ID}/messages"


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def make_client(stub, **options):
    options.setdefault("retry_backoff", 0.01)
    return wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url, **options)


def recipient(i):
    return f"+1 650 555 {1000 + i:04d}"


def echo_handler(stub, delay=0.0):
    """Answers with a wamid naming the text body, after a random short delay,
    so completions arrive out of order; bodies starting with a command fail."""
    seen = {}
    lock = threading.Lock()

    def handle(request):
        body = request.json()["text"]["body"]
        with lock:
            seen[body] = seen.get(body, 0) + 1
            attempt = seen[body]
        time.sleep(random.uniform(0, delay))
        if body.startswith("recipient"):
            return Reply(400, graph_error(131026, "Message undeliverable"))
        if body.startswith("flaky") and attempt == 1:
            return Reply(503, graph_error(131016, "Service unavailable"))
        if body.startswith("down"):
            return Reply(500, graph_error(131000, "Something went wrong"))
        to = request.json()["to"]
        return Reply(200, {"contacts": [{"input": to, "wa_id": to}], "messages": [{"id": f"wamid.{body}"}]})

    stub.route("POST", MESSAGES, handle)
    return seen


def test_results_in_input_order_with_mixed_failures(stub):
    seen = echo_handler(stub, delay=0.02)
    bodies = [f"ok{i}" for i in range(40)]
    bodies[3], bodies[17], bodies[25] = "recipient3", "flaky17", "down25"
    results = make_client(stub, max_retries=2).send_many(
        [(recipient(i), Text(body)) for i, body in enumerate(bodies)], concurrency=8
    )
    assert len(results) == 40
    for i, (body, result) in enumerate(zip(bodies, results, strict=True)):
        if body.startswith("ok") or body.startswith("flaky"):
            assert result.message_id == f"wamid.{body}"
            assert result.wa_id == f"1650555{1000 + i:04d}"
    assert isinstance(results[3], RecipientError) and results[3].code == 131026
    assert isinstance(results[25], TransientError) and results[25].http_status == 500
    assert seen["flaky17"] == 2  # retried once, then succeeded
    assert seen["down25"] == 3  # first attempt + max_retries
    assert seen["recipient3"] == 1  # never retried
    assert all(seen[b] == 1 for b in bodies if b.startswith("ok"))


def test_concurrency_is_reached_and_never_exceeded_on_one_pool(stub):
    echo_handler(stub)
    stub.route("POST", MESSAGES, lambda request: (time.sleep(0.05), stub.send_success(request))[1])
    results = make_client(stub).send_many([(recipient(i), Text(f"m{i}")) for i in range(48)], concurrency=6)
    assert all(isinstance(r, wacloud.SendResult) for r in results)
    assert stub.max_in_flight == 6
    assert stub.connections <= 6


def test_many_in_flight_is_faster_than_one_by_one(stub):
    stub.route("POST", MESSAGES, lambda request: (time.sleep(0.05), stub.send_success(request))[1])
    started = time.monotonic()
    make_client(stub).send_many([(recipient(i), Text("hi")) for i in range(32)], concurrency=16)
    assert time.monotonic() - started < 32 * 0.05 / 3


def test_prepared_payloads_and_mixed_message_types(stub):
    payload = Image(link="https://example.com/a.jpg").to_payload(recipient(1))
    results = make_client(stub).send_many([payload, (recipient(2), Text("hi"))])
    assert [r.wa_id for r in results] == ["16505551001", "16505551002"]
    sent = sorted((r.json() for r in stub.requests), key=lambda body: body["type"])
    assert sent[0] == payload
    assert sent[1]["text"] == {"preview_url": False, "body": "hi"}


def test_invalid_item_raises_before_anything_is_sent(stub):
    items = [(recipient(0), Text("fine")), (recipient(1), Text("x" * 5000))]
    with pytest.raises(InvalidParameter) as raised:
        make_client(stub).send_many(items)
    assert raised.value.send_many_index == 1
    with pytest.raises(TypeError):
        make_client(stub).send_many([Text("no recipient")])
    with pytest.raises(InvalidParameter):
        make_client(stub).send_many([{"type": "text"}])
    with pytest.raises(InvalidParameter):
        make_client(stub).send_many([], concurrency=0)
    assert stub.requests == []


def test_empty_batch(stub):
    assert make_client(stub).send_many([]) == []


def test_hung_request_is_delivery_unknown_others_succeed(stub):
    handler_calls = []

    def handle(request):
        handler_calls.append(1)
        if request.json()["text"]["body"] == "hang":
            return Reply(action="hang")
        return stub.send_success(request)

    stub.route("POST", MESSAGES, handle)
    items = [(recipient(i), Text("hang" if i == 2 else "ok")) for i in range(5)]
    results = make_client(stub, timeout=0.5).send_many(items, concurrency=5)
    assert isinstance(results[2], DeliveryUnknown)
    assert [isinstance(r, wacloud.SendResult) for r in results] == [True, True, False, True, True]
    assert len(handler_calls) == 5  # the hung send was not resent


def test_native_rate_limiter_paces_the_batch(stub):
    limiter = wacloud.RateLimiter(per_second=100, burst=1)
    started = time.monotonic()
    results = make_client(stub, rate_limiter=limiter).send_many(
        [(recipient(i), Text("hi")) for i in range(21)]
    )
    assert time.monotonic() - started >= 20 / 100 - 0.02
    assert all(isinstance(r, wacloud.SendResult) for r in results)


def test_native_rate_limiter_timeout_fails_only_waiting_sends(stub):
    limiter = wacloud.RateLimiter(per_second=1, burst=2)
    results = make_client(stub, rate_limiter=limiter, rate_limit_timeout=0.2).send_many(
        [(recipient(i), Text("hi")) for i in range(4)]
    )
    assert [type(r).__name__ for r in results] == ["SendResult", "SendResult", "RateLimited", "RateLimited"]
    assert len(stub.requests) == 2


def test_python_rate_limiter_is_asked_per_message_before_each_group(stub):
    calls = []

    class Limiter:
        def acquire(self, key, recipient, timeout):
            calls.append((key, recipient, len(stub.requests)))
            return not recipient.endswith("1003")

    items = [(recipient(i), Text(f"m{i}")) for i in range(6)]
    results = make_client(stub, rate_limiter=Limiter()).send_many(items, concurrency=4)
    assert isinstance(results[3], RateLimited)
    assert sum(isinstance(r, wacloud.SendResult) for r in results) == 5
    assert [c[1] for c in calls] == [f"1650555{1000 + i:04d}" for i in range(6)]
    assert [c[2] for c in calls] == [0, 0, 0, 0, 3, 3]  # group of 4 asked before dispatch, then the rest
    assert {c[0] for c in calls} == {PHONE_ID}


@pytest.mark.serial
def test_gil_is_released_while_sending(stub):
    stub.route("POST", MESSAGES, lambda request: (time.sleep(0.1), stub.send_success(request))[1])
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        make_client(stub).send_many([(recipient(i), Text("hi")) for i in range(8)], concurrency=4)
    finally:
        done.set()
        counter.join()
    assert ticks > 1000


def test_one_client_shared_by_threads(stub):
    client = make_client(stub)
    results = []

    def worker(n):
        for i in range(10):
            results.append(client.send_text(recipient(n * 10 + i), f"t{n}-{i}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80
    assert len({r.message_id for r in results}) == 80
    assert stub.connections <= 8  # connections are pooled, not opened per send
