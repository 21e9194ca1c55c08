import hashlib
import hmac

import pytest

import wacloud
from wacloud.security import sign, verify_signature, verify_subscription


def python_signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("secret", "body"),
    [
        (b"app-secret", b'{"object":"whatsapp_business_account","entry":[]}'),
        (b"k", b""),
        (b"\x00\xff binary secret", bytes(range(256)) * 40),
        ("unicode secret \u00e9", "body \u20ac".encode()),
    ],
)
def test_sign_matches_python_hmac(secret, body):
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    assert sign(secret, body) == python_signature(secret_bytes, body)


def test_signatures_stay_right_when_secrets_alternate_and_across_threads():
    # The core keeps the last secret's HMAC state per thread: switching secrets, keys longer
    # than SHA-256's 64-byte block (hashed first) and exactly one block must all still match.
    from concurrent.futures import ThreadPoolExecutor

    secrets = [b"a", b"b" * 64, b"c" * 65, b"d" * 300, b""]
    bodies = [b"", b"x", bytes(range(256)) * 9]

    def check(offset: int) -> int:
        checked = 0
        for round_number in range(20):
            secret = secrets[(round_number + offset) % len(secrets)]
            for body in bodies:
                expected = python_signature(secret, body)
                assert sign(secret, body) == expected
                assert verify_signature(secret, body, expected) is bool(secret)
                assert not verify_signature(secret + b"!", body, expected)
                checked += 1
        return checked

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sum(pool.map(check, range(8))) == 8 * 20 * len(bodies)


def test_verify_accepts_python_hmac_signature():
    body = b'{"entry":[{"id":"1"}]}'
    assert verify_signature("s3cret", body, python_signature(b"s3cret", body))
    assert verify_signature(b"s3cret", bytearray(body), python_signature(b"s3cret", body).encode())
    large = b'{"entry":[{"id":"1","pad":"' + b"x" * 40_000 + b'"}]}'  # checked without the GIL
    assert verify_signature("s3cret", bytearray(large), python_signature(b"s3cret", large))
    assert not verify_signature("s3cret", bytearray(large) + b" ", python_signature(b"s3cret", large))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        "sha256=" + "0" * 63,
        "sha256=" + "0" * 65,
        "sha256=" + "z" * 64,
        "SHA256=" + "0" * 64,
        12345,
    ],
)
def test_verify_is_false_for_bad_headers_never_raises(header):
    assert verify_signature("secret", b"body", header) is False


def test_verify_rejects_tampered_body_and_wrong_secret():
    header = sign("secret", b"body")
    assert not verify_signature("secret", b"body ", header)
    assert not verify_signature("secreT", b"body", header)
    assert not verify_signature("", b"body", sign("", b"body"))


def test_sign_rejects_non_bytes():
    with pytest.raises(TypeError):
        sign("secret", 42)


def test_verify_subscription():
    assert verify_subscription("subscribe", "tok", "12345", "tok") == "12345"
    for mode, token, challenge in [
        ("unsubscribe", "tok", "1"),
        ("subscribe", "bad", "1"),
        ("subscribe", None, "1"),
        ("subscribe", "tok", ""),
    ]:
        with pytest.raises(wacloud.WebhookVerificationError):
            verify_subscription(mode, token, challenge, "tok")
    with pytest.raises(ValueError):
        verify_subscription("subscribe", "", "1", "")
