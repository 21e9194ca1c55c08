"""The encryption of WhatsApp Flows data-exchange requests, both sides.

Meta's rules (Flows, "Implementing Endpoint for Flows"): the client draws an AES-128 key
and a 16-byte ``initial_vector``, encrypts the request JSON with AES-GCM (the 16-byte tag
appended to the ciphertext) and the AES key with the business's RSA public key
(RSA-OAEP, SHA-256 for the hash and MGF1). The body is
``{"encrypted_flow_data", "encrypted_aes_key", "initial_vector"}``, each base64. The
endpoint answers with the response JSON encrypted by the same AES key under the
*flipped* vector (every bit inverted), base64, as plain text. A request it cannot
decrypt gets HTTP 421, after which the client fetches the public key again.

The endpoint's side is :func:`decrypt_request` and :func:`encrypt_response`; Meta's
side (:func:`encrypt_request`, :func:`decrypt_response`) lets the sandbox and tests
call an endpoint as WhatsApp does. Needs ``cryptography`` (the ``django`` or
``sandbox`` extra).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import FlowDecryptionError

__all__ = [
    "DecryptedRequest",
    "decrypt_request",
    "decrypt_response",
    "encrypt_request",
    "encrypt_response",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_pem",
]

AES_KEY_BYTES = 16  # AES-128, as WhatsApp draws it
IV_BYTES = 16
TAG_BYTES = 16
RSA_BITS = 2048  # Meta requires at least 2048-bit keys


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "WhatsApp Flows encryption needs the cryptography package: "
            "pip install 'wacloud[django]' (or 'wacloud[sandbox]')"
        ) from None
    return hashes, serialization, padding, rsa, AESGCM


def _oaep() -> Any:
    hashes, _serialization, padding, _rsa, _aesgcm = _crypto()
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def flip(iv: bytes) -> bytes:
    """The response's vector: every bit of the request's inverted."""
    return bytes(byte ^ 0xFF for byte in iv)


# -- keys ----------------------------------------------------------------------------------------
def generate_private_key(bits: int = RSA_BITS) -> Any:
    """A new RSA private key (public exponent 65537) for a Flows endpoint."""
    if bits < RSA_BITS:
        raise ValueError(f"Meta requires RSA keys of at least {RSA_BITS} bits, not {bits}")
    _hashes, _serialization, _padding, rsa, _aesgcm = _crypto()
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def load_private_key(pem: str | bytes, password: str | bytes | None = None) -> Any:
    """An RSA private key from PEM (PKCS#8 or PKCS#1), encrypted with ``password`` if given."""
    _hashes, serialization, _padding, rsa, _aesgcm = _crypto()
    data = pem.encode() if isinstance(pem, str) else bytes(pem)
    secret = password.encode() if isinstance(password, str) else password
    try:
        key = serialization.load_pem_private_key(data, password=secret or None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"not a usable PEM private key: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("a Flows endpoint key must be an RSA key")
    return key


def load_public_key(pem: str | bytes) -> Any:
    """An RSA public key from PEM (``-----BEGIN PUBLIC KEY-----``)."""
    _hashes, serialization, _padding, rsa, _aesgcm = _crypto()
    data = pem.encode() if isinstance(pem, str) else bytes(pem)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise ValueError(f"not a usable PEM public key: {error}") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < RSA_BITS:
        raise ValueError(f"a Flows public key must be an RSA key of at least {RSA_BITS} bits")
    return key


def private_key_pem(key: Any, password: str | bytes | None = None) -> str:
    """``key`` as PKCS#8 PEM, encrypted with ``password`` when one is given."""
    _hashes, serialization, _padding, _rsa, _aesgcm = _crypto()
    secret = password.encode() if isinstance(password, str) else password
    encryption = serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def public_key_pem(key: Any) -> str:
    """The public half of a private key (or a public key) as the PEM Meta takes."""
    _hashes, serialization, _padding, _rsa, _aesgcm = _crypto()
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


# -- the endpoint's side -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DecryptedRequest:
    """A decrypted request: its JSON (``version``, ``action``, ``screen``, ``data``,
    ``flow_token``) and the AES key and vector the response must be encrypted with."""

    payload: dict[str, Any]
    aes_key: bytes
    initial_vector: bytes

    def encrypt_response(self, response: Mapping[str, Any]) -> str:
        return encrypt_response(response, self.aes_key, self.initial_vector)


def _b64(body: Mapping[str, Any], name: str) -> bytes:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise FlowDecryptionError(f"the request has no {name}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FlowDecryptionError(f"{name} is not base64") from None


def decrypt_request(body: bytes | str | Mapping[str, Any], private_key: Any) -> DecryptedRequest:
    """Decrypt a request WhatsApp sent to the endpoint. Anything that stops it (not JSON,
    a field missing, a key that does not open it, altered data) raises
    :class:`wacloud.FlowDecryptionError`, which the endpoint answers with HTTP 421."""
    if not isinstance(body, Mapping):
        try:
            body = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise FlowDecryptionError("the request body is not JSON") from None
        if not isinstance(body, Mapping):
            raise FlowDecryptionError("the request body is not a JSON object")
    encrypted_key = _b64(body, "encrypted_aes_key")
    data = _b64(body, "encrypted_flow_data")
    iv = _b64(body, "initial_vector")
    _hashes, _serialization, _padding, _rsa, aesgcm = _crypto()
    from cryptography.exceptions import InvalidTag

    try:
        aes_key = private_key.decrypt(encrypted_key, _oaep())
    except ValueError:
        raise FlowDecryptionError("the AES key does not decrypt with this private key") from None
    if len(aes_key) not in (16, 24, 32) or len(data) <= TAG_BYTES or len(iv) < 8:
        raise FlowDecryptionError("the AES key, vector or data has the wrong length")
    try:
        clear = aesgcm(aes_key).decrypt(iv, data, None)
    except InvalidTag:
        raise FlowDecryptionError("the flow data does not decrypt (altered, or another key)") from None
    try:
        payload = json.loads(clear)
    except (ValueError, UnicodeDecodeError):
        raise FlowDecryptionError("the decrypted flow data is not JSON") from None
    if not isinstance(payload, dict):
        raise FlowDecryptionError("the decrypted flow data is not a JSON object")
    return DecryptedRequest(payload, aes_key, iv)


def encrypt_response(response: Mapping[str, Any], aes_key: bytes, initial_vector: bytes) -> str:
    """The endpoint's answer: ``response`` as JSON, AES-GCM under the request's key and
    flipped vector, base64 (sent as the plain-text body)."""
    _hashes, _serialization, _padding, _rsa, aesgcm = _crypto()
    clear = json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(aesgcm(aes_key).encrypt(flip(initial_vector), clear, None)).decode()


# -- WhatsApp's side (the sandbox, tests) ----------------------------------------------------------
def encrypt_request(
    payload: Mapping[str, Any], public_key: Any, *, aes_key: bytes | None = None, iv: bytes | None = None
) -> tuple[dict[str, str], bytes, bytes]:
    """Encrypt a request as WhatsApp does for ``public_key``: returns the JSON body and the
    AES key and vector its answer is encrypted with. Fresh random ones unless given."""
    _hashes, _serialization, _padding, _rsa, aesgcm = _crypto()
    aes_key = aes_key if aes_key is not None else os.urandom(AES_KEY_BYTES)
    iv = iv if iv is not None else os.urandom(IV_BYTES)
    clear = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    body = {
        "encrypted_flow_data": base64.b64encode(aesgcm(aes_key).encrypt(iv, clear, None)).decode(),
        "encrypted_aes_key": base64.b64encode(public_key.encrypt(aes_key, _oaep())).decode(),
        "initial_vector": base64.b64encode(iv).decode(),
    }
    return body, aes_key, iv


def decrypt_response(text: str | bytes, aes_key: bytes, initial_vector: bytes) -> dict[str, Any]:
    """Decrypt an endpoint's answer (base64 text) as WhatsApp does; a wrong encryption raises
    :class:`wacloud.FlowDecryptionError`."""
    _hashes, _serialization, _padding, _rsa, aesgcm = _crypto()
    from cryptography.exceptions import InvalidTag

    try:
        data = base64.b64decode(text.strip(), validate=True)
        clear = aesgcm(aes_key).decrypt(flip(initial_vector), data, None)
        answer = json.loads(clear)
    except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
        raise FlowDecryptionError(
            "the endpoint's answer does not decrypt with the request's key and flipped vector"
        ) from None
    if not isinstance(answer, dict):
        raise FlowDecryptionError("the endpoint's answer is not a JSON object")
    return answer
