"""The Flows endpoint encryption (wacloud.flow_crypto) against Meta's rules, written out here
with the cryptography primitives directly: RSA-OAEP with SHA-256 for the AES key, AES-GCM
with the 16-byte tag appended, the response under the bit-flipped vector, base64 on the
wire. Each side of the module is checked against this independent construction."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wacloud import FlowDecryptionError, flow_crypto

KEY = flow_crypto.generate_private_key()
OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
REQUEST = {
    "version": "3.0",
    "action": "data_exchange",
    "screen": "START",
    "data": {"n": 2},
    "flow_token": "t",
}


def metas_request(payload: dict, public_key=None) -> tuple[dict, bytes, bytes]:
    """A request as WhatsApp builds it, by the documented steps."""
    aes_key, iv = os.urandom(16), os.urandom(16)
    encrypted = AESGCM(aes_key).encrypt(iv, json.dumps(payload).encode(), None)  # ciphertext + tag
    body = {
        "encrypted_flow_data": base64.b64encode(encrypted).decode(),
        "encrypted_aes_key": base64.b64encode(
            (public_key or KEY.public_key()).encrypt(aes_key, OAEP)
        ).decode(),
        "initial_vector": base64.b64encode(iv).decode(),
    }
    return body, aes_key, iv


def test_the_endpoint_side_reads_metas_request_and_answers_under_the_flipped_vector():
    body, aes_key, iv = metas_request(REQUEST)
    request = flow_crypto.decrypt_request(json.dumps(body).encode(), KEY)
    assert request.payload == REQUEST and request.aes_key == aes_key and request.initial_vector == iv
    answer = request.encrypt_response({"screen": "DONE", "data": {}})
    flipped = bytes(b ^ 0xFF for b in iv)
    clear = AESGCM(aes_key).decrypt(flipped, base64.b64decode(answer), None)
    assert json.loads(clear) == {"screen": "DONE", "data": {}}


def test_metas_side_builds_what_the_documented_steps_decrypt():
    body, aes_key, iv = flow_crypto.encrypt_request(REQUEST, KEY.public_key())
    assert KEY.decrypt(base64.b64decode(body["encrypted_aes_key"]), OAEP) == aes_key and len(aes_key) == 16
    assert base64.b64decode(body["initial_vector"]) == iv and len(iv) == 16
    clear = AESGCM(aes_key).decrypt(iv, base64.b64decode(body["encrypted_flow_data"]), None)
    assert json.loads(clear) == REQUEST
    answer = base64.b64encode(AESGCM(aes_key).encrypt(flow_crypto.flip(iv), b'{"data":{"ok":true}}', None))
    assert flow_crypto.decrypt_response(answer, aes_key, iv) == {"data": {"ok": True}}


def test_the_answer_is_not_readable_under_the_requests_own_vector():
    body, aes_key, iv = metas_request(REQUEST)
    answer = flow_crypto.decrypt_request(body, KEY).encrypt_response({"data": {}})
    with pytest.raises(FlowDecryptionError):
        flow_crypto.decrypt_response(answer, aes_key, flow_crypto.flip(iv))  # i.e. not flipped


@pytest.mark.parametrize(
    "spoil",
    [
        lambda body: b"not json",
        lambda body: json.dumps([1]).encode(),
        lambda body: json.dumps({k: v for k, v in body.items() if k != "initial_vector"}).encode(),
        lambda body: json.dumps({**body, "encrypted_aes_key": "%%%"}).encode(),
        lambda body: json.dumps(
            {**body, "encrypted_flow_data": base64.b64encode(b"x" * 40).decode()}
        ).encode(),
        lambda body: json.dumps(
            {**body, "initial_vector": base64.b64encode(os.urandom(16)).decode()}
        ).encode(),
    ],
    ids=["not-json", "not-object", "missing-iv", "not-base64", "altered-data", "other-iv"],
)
def test_anything_that_does_not_decrypt_is_flow_decryption_error(spoil):
    body, _key, _iv = metas_request(REQUEST)
    with pytest.raises(FlowDecryptionError):
        flow_crypto.decrypt_request(spoil(body), KEY)


def test_a_request_for_another_key_is_flow_decryption_error():
    other = flow_crypto.generate_private_key()
    body, _key, _iv = metas_request(REQUEST, other.public_key())
    with pytest.raises(FlowDecryptionError, match="private key"):
        flow_crypto.decrypt_request(body, KEY)
    assert issubclass(FlowDecryptionError, ValueError)


def test_keys_as_pem_with_and_without_a_password():
    plain = flow_crypto.private_key_pem(KEY)
    locked = flow_crypto.private_key_pem(KEY, "s3cret")
    assert "ENCRYPTED" in locked and "ENCRYPTED" not in plain
    public = flow_crypto.public_key_pem(KEY)
    assert flow_crypto.public_key_pem(flow_crypto.load_private_key(plain)) == public
    assert flow_crypto.public_key_pem(flow_crypto.load_private_key(locked, "s3cret")) == public
    with pytest.raises(ValueError):
        flow_crypto.load_private_key(locked, "wrong")
    with pytest.raises(ValueError):
        flow_crypto.load_public_key("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ValueError, match="2048"):
        flow_crypto.generate_private_key(1024)
    assert flow_crypto.load_public_key(public).key_size == 2048
