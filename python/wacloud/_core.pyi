"""Typed stubs for the compiled core. Prefer the modules of ``wacloud``."""


_BytesLike = bytes | bytearray | str

# signature
def sign(app_secret: _BytesLike, body: _BytesLike) -> str: ...
def verify_signature(app_secret: _BytesLike, body: _BytesLike, header: _BytesLike | None) -> bool: ...
