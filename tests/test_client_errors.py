"""Graph errors -> exception classes, retries with backoff, Retry-After,
DeliveryUnknown, rate limiter hooks, and the token kept out of every error."""

import itertools
import pickle
import socket
import threading
import time

import pytest

import wacloud
from graph_stub import GraphStub, Reply, graph_error
from wacloud.errors import (
    AuthenticationError,
    DeliveryUnknown,
    GraphAPIError,
    InvalidParameter,
    MediaError,
    PermissionDenied,
    RateLimited,
    RecipientError,
    ReEngagementRequired,
    TemplateError,
    TransientError,
)

TOKEN = "EAAG-secret-token-456"
PHONE_ID = "106540352242922"
MESSAGES = f"/v25.0/{PHONE_ID}/messages"
TO = "16505551234"


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def make_client(stub, **options):
    options.setdefault("retry_backoff", 0.01)
    return wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url, **options)


FAMILIES = [
    (401, graph_error(190, "Error validating access token", subcode=463), AuthenticationError),
    (401, graph_error(0, "AuthException"), AuthenticationError),
    (403, graph_error(10, "Permission denied"), PermissionDenied),
    (403, graph_error(200, "Requires whatsapp_business_messaging"), PermissionDenied),
    (429, graph_error(130429, "Rate limit hit"), RateLimited),
    (400, graph_error(131056, "Pair rate limit hit"), RateLimited),
    (400, graph_error(80007, "Rate limit issues"), RateLimited),
    (400, graph_error(131047, "Re-engagement message"), ReEngagementRequired),
    (400, graph_error(131026, "Message undeliverable"), RecipientError),
    (404, graph_error(132001, "Template name does not exist in the translation"), TemplateError),
    (400, graph_error(132000, "Number of parameters does not match"), TemplateError),
    (400, graph_error(131053, "Media upload error"), MediaError),
    (400, graph_error(100, "Invalid parameter", subcode=2494010), InvalidParameter),
    (400, graph_error(131009, "Parameter value is not valid"), InvalidParameter),
    (500, graph_error(131000, "Something went wrong"), TransientError),
    (503, graph_error(2, "Service temporarily unavailable"), TransientError),
    (400, graph_error(999999, "brand new code"), InvalidParameter),  # unknown: by HTTP status
    (503, graph_error(999999, "brand new code"), TransientError),
    (502, "<html>Bad Gateway</html>", TransientError),
    (500, "", TransientError),
    (400, '{"error": {"message": "cut', InvalidParameter),
    (401, "", AuthenticationError),
]


@pytest.mark.parametrize(("status", "body", "expected"), FAMILIES)
def test_error_families_map_to_exception_classes(stub, status, body, expected):
    stub.script("POST", MESSAGES, Reply(status, body))
    with pytest.raises(expected) as raised:
        make_client(stub, max_retries=0).send_text(TO, "hi")
    error = raised.value
    assert type(error) is expected
    assert error.http_status == status
    if isinstance(body, dict):
        assert error.code == body["error"]["code"]
        assert error.subcode == body["error"].get("error_subcode", 0)
        assert error.fbtrace_id == "AbCdEf123"
        assert error.type == "OAuthException"
        assert str(error) == body["error"]["message"]
    else:
        assert error.code == 0
        assert f"HTTP {status}" in str(error)
    assert error.retriable == issubclass(expected, (TransientError, RateLimited))


# Meta's error-code reference
# (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/).
ACCOUNT_AND_TYPE_CODES = [
    (graph_error(131051, "Unsupported message type"), InvalidParameter),
    (graph_error(33, "Parameter value is not valid"), PermissionDenied),  # business number deleted
    (graph_error(131037, "Display name approval required"), PermissionDenied),
    (graph_error(131042, "Business eligibility payment issue"), PermissionDenied),
    (graph_error(133010, "Phone number not registered"), PermissionDenied),
    (graph_error(130403, "Forbidden"), PermissionDenied),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    ACCOUNT_AND_TYPE_CODES,
    ids=[str(b["error"]["code"]) for b, _ in ACCOUNT_AND_TYPE_CODES],
)
def test_account_state_and_unsupported_type_codes(stub, body, expected):
    stub.script("POST", MESSAGES, Reply(400, body))
    with pytest.raises(expected) as raised:
        make_client(stub).send_text(TO, "hi")
    assert raised.value.code == body["error"]["code"] and raised.value.retriable is False
    assert len(stub.requests) == 1


def test_spam_rate_limit_131048_is_not_retried(stub):
    stub.script("POST", MESSAGES, Reply(400, graph_error(131048, "Spam rate limit hit")))
    with pytest.raises(RateLimited) as raised:
        make_client(stub).send_text(TO, "hi")
    assert raised.value.retriable is False
    assert len(stub.requests) == 1  # sent once: waiting does not lift a quality limit


def test_template_errors_keep_the_user_title_and_message(stub):
    body = graph_error(
        100,
        "Invalid parameter",
        subcode=2388299,
        error_user_title="Variables can't be at the start or end of the template",
        error_user_msg="Add text before the first variable and after the last one.",
    )
    stub.script("POST", f"/v25.0/{PHONE_ID}/message_templates", Reply(400, body))
    client = wacloud.Client(TOKEN, PHONE_ID, waba_id=PHONE_ID, base_url=stub.base_url)
    with pytest.raises(InvalidParameter) as raised:
        client.create_template("edgy", "en_US", "UTILITY", [{"type": "BODY", "text": "{{1}}"}])
    error = raised.value
    assert error.error_user_title == "Variables can't be at the start or end of the template"
    assert error.error_user_msg == "Add text before the first variable and after the last one."
    assert "Add text before the first variable" in str(error) and error.message == "Invalid parameter"
    assert pickle.loads(pickle.dumps(error)).error_user_msg == error.error_user_msg


def test_default_api_version_is_a_current_one(stub):
    # v21.0 is retired by Meta on 2027-01-21; the default must outlive it.
    assert wacloud.client.DEFAULT_API_VERSION == "v25.0"
    make_client(stub).send_text(TO, "hi")
    assert stub.requests[0].path.startswith("/v25.0/")


def test_error_details_and_builtin_bases(stub):
    body = graph_error(
        131008, "Required parameter is missing", error_data={"details": "text.body is required"}
    )
    stub.script("POST", MESSAGES, Reply(400, body))
    with pytest.raises(ValueError) as raised:  # InvalidParameter is also a ValueError
        make_client(stub).send_text(TO, "hi")
    assert isinstance(raised.value, InvalidParameter)
    assert raised.value.details == "text.body is required"


def test_transient_errors_are_retried_then_succeed(stub):
    stub.script("POST", MESSAGES, Reply(500, graph_error(131000)), Reply(503, "unavailable"))
    result = make_client(stub).send_text(TO, "hi")
    assert result.message_id == "wamid.TEST000001"
    assert len(stub.requests) == 3
    assert {r.body for r in stub.requests} == {stub.requests[0].body}  # the same request each time


def test_retries_stop_after_max_retries(stub):
    stub.script("POST", MESSAGES, *[Reply(500, graph_error(1, "unknown"))] * 5)
    with pytest.raises(TransientError):
        make_client(stub, max_retries=2).send_text(TO, "hi")
    assert len(stub.requests) == 3


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, graph_error(100, "bad")), (401, graph_error(190, "expired")), (403, graph_error(10, "denied"))],
)
def test_validation_and_auth_errors_are_never_retried(stub, status, body):
    stub.script("POST", MESSAGES, Reply(status, body), Reply(200, {}))
    with pytest.raises(GraphAPIError):
        make_client(stub, max_retries=5).send_text(TO, "hi")
    assert len(stub.requests) == 1


def test_backoff_grows_exponentially_with_jitter(stub):
    stub.script("POST", MESSAGES, *[Reply(500, graph_error(2))] * 3)
    make_client(stub, max_retries=3, retry_backoff=0.08, retry_backoff_max=10).send_text(TO, "hi")
    times = [r.at for r in stub.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Equal jitter: attempt n waits between half and all of base * 2**n.
    for n, gap in enumerate(gaps):
        assert 0.08 * 2**n * 0.5 - 0.01 <= gap <= 0.08 * 2**n + 0.25, gaps


def test_backoff_is_capped_and_honours_retry_after():
    client = wacloud.Client(TOKEN, PHONE_ID, retry_backoff=1.0, retry_backoff_max=2.0)
    waits = [client._core.backoff_seconds(10) for _ in range(50)]
    assert all(1.0 <= w <= 2.0 for w in waits)
    assert len(set(waits)) > 1  # jittered
    assert client._core.backoff_seconds(0, 1.75) >= 1.75


def test_retry_after_header_is_honoured(stub):
    stub.script(
        "POST", MESSAGES, Reply(429, graph_error(130429, "throttled"), headers={"Retry-After": "0.4"})
    )
    make_client(stub, retry_backoff=0.001).send_text(TO, "hi")
    first, second = stub.requests
    assert second.at - first.at >= 0.38


def test_retry_after_longer_than_backoff_max_is_raised_with_retry_after(stub):
    stub.script(
        "POST",
        MESSAGES,
        Reply(429, graph_error(4, "Application request limit"), headers={"Retry-After": "120"}),
    )
    with pytest.raises(RateLimited) as raised:
        make_client(stub, retry_backoff_max=5).send_text(TO, "hi")
    assert raised.value.retry_after == 120
    assert raised.value.retriable
    assert len(stub.requests) == 1


def test_request_that_reached_meta_without_answer_is_delivery_unknown_and_not_resent(stub):
    stub.script("POST", MESSAGES, Reply(action="hang"))
    started = time.monotonic()
    with pytest.raises(DeliveryUnknown) as raised:
        make_client(stub, timeout=0.5, max_retries=3).send_text(TO, "hi")
    assert 0.45 <= time.monotonic() - started < 3
    assert len(stub.requests) == 1
    assert not raised.value.retriable
    assert raised.value.http_status == 0


def test_connection_dropped_after_request_is_delivery_unknown(stub):
    stub.script("POST", MESSAGES, Reply(action="close"))
    with pytest.raises(DeliveryUnknown):
        make_client(stub).send_text(TO, "hi")
    assert len(stub.requests) == 1


def test_idempotent_reads_are_retried_after_timeouts(stub):
    stub.script("GET", f"/v25.0/{PHONE_ID}", Reply(action="hang"))
    stub.route(
        "GET", f"/v25.0/{PHONE_ID}", lambda request: Reply(200, {"id": PHONE_ID, "quality_rating": "GREEN"})
    )
    assert make_client(stub, timeout=0.3).get_phone_number()["quality_rating"] == "GREEN"
    assert len(stub.requests) == 2


def test_connect_failures_are_retried_as_nothing_was_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused
    client = wacloud.Client(
        TOKEN, PHONE_ID, base_url=f"http://127.0.0.1:{port}", retry_backoff=0.05, max_retries=2
    )
    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        client.send_text(TO, "hi")
    assert "nothing was sent" in str(raised.value)
    assert time.monotonic() - started >= 0.05 * 0.5 + 0.1 * 0.5  # two backoffs were waited


def test_python_rate_limiter_is_called_before_each_send(stub):
    calls = []

    class Limiter:
        def acquire(self, key, recipient, timeout):
            calls.append((key, recipient, timeout))
            return len(calls) < 3

    client = make_client(stub, rate_limiter=Limiter(), rate_limit_timeout=2.5)
    client.send_text("+1 650 555 1234", "one")
    client.send_text(TO, "two")
    with pytest.raises(RateLimited):
        client.send_text(TO, "three")
    assert calls == [(PHONE_ID, TO, 2.5)] * 3
    assert len(stub.requests) == 2


def test_native_rate_limiter_paces_sends_in_cpp(stub):
    limiter = wacloud.RateLimiter(per_second=20, burst=1)
    client = make_client(stub, rate_limiter=limiter)
    started = time.monotonic()
    for _ in range(5):
        client.send_text(TO, "hi")
    assert time.monotonic() - started >= 4 / 20 - 0.02


def test_rate_limiter_must_have_acquire():
    with pytest.raises(TypeError):
        wacloud.Client(TOKEN, PHONE_ID, rate_limiter=object())


def collect_errors(stub):
    errors = []
    for status, body, _ in FAMILIES:
        stub.script("POST", MESSAGES, Reply(status, body))
        try:
            make_client(stub, max_retries=0).send_text(TO, "hi")
        except GraphAPIError as error:
            errors.append(error)
    stub.script("POST", MESSAGES, Reply(400, graph_error(100, f"Malformed token {TOKEN} in request")))
    with pytest.raises(InvalidParameter) as raised:
        make_client(stub).send_text(TO, "hi")
    errors.append(raised.value)
    assert "[redacted]" in str(raised.value)
    return errors


def test_token_never_appears_in_errors_or_reprs(stub):
    client = make_client(stub)
    texts = [repr(client), str(client.__dict__)]
    for error in collect_errors(stub):
        texts += [str(error), repr(error), repr(error.args), repr(vars(error))]
    assert len(texts) > len(FAMILIES)
    assert not [text for text in texts if TOKEN in text]
    with pytest.raises(TypeError):
        pickle.dumps(client)


def raised_within(seconds, call):
    """The exception `call` raises, failing the test if it has not returned after
    `seconds` (the worker thread is a daemon, so a hang cannot stall the run)."""
    outcome = []

    def run():
        try:
            call()
            outcome.append(None)
        except Exception as error:
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds}s"
    return outcome[0]


@pytest.mark.parametrize("token", ["e", "tok", "[redacted]", "redacted", "["])
def test_short_tokens_leave_error_text_intact_and_return_promptly(stub, token):
    # Each of these occurs inside "[redacted]" or inside the words of Meta's message.
    message = "Invalid OAuth access token."
    stub.script("POST", MESSAGES, Reply(401, graph_error(190, message, error_data={"details": message})))
    client = wacloud.Client(token, PHONE_ID, base_url=stub.base_url, max_retries=0)
    error = raised_within(10, lambda: client.send_text(TO, "hi"))
    assert isinstance(error, AuthenticationError)
    assert (error.message, error.details, str(error)) == (message, message, message)


def test_whole_token_is_redacted_but_not_the_words_around_it(stub):
    stub.script("POST", MESSAGES, Reply(400, graph_error(100, "token e: e.g. not accepted (e)")))
    client = wacloud.Client("e", PHONE_ID, base_url=stub.base_url)
    error = raised_within(10, lambda: client.send_text(TO, "hi"))
    assert isinstance(error, InvalidParameter)
    assert error.message == "token ***: ***.g. not accepted (***)"


def test_bad_construction_arguments_raise_typed_errors():
    with pytest.raises(InvalidParameter, match="access_token"):
        wacloud.Client("", PHONE_ID)
    with pytest.raises(InvalidParameter, match="phone_number_id"):
        wacloud.Client(TOKEN, "12/../34")
    with pytest.raises(InvalidParameter, match="timeout"):
        wacloud.Client(TOKEN, PHONE_ID, timeout=0)
    with pytest.raises(InvalidParameter, match="base_url"):
        wacloud.Client(TOKEN, PHONE_ID, base_url="graph.facebook.com")
    with pytest.raises(TypeError):
        wacloud.Client(None, PHONE_ID)
