"""``python -m wacloud``: phone numbers, signatures, media hashes, webhook parsing, the sandbox."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .errors import WacloudError


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def _print_json(value: Any) -> None:
    print(json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True))


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def _secret(args: argparse.Namespace) -> str:
    # An environment variable keeps the secret out of `ps` and shell history.
    secret = args.secret or os.environ.get("WHATSAPP_APP_SECRET", "")
    if not secret:
        raise SystemExit("error: give --secret or set WHATSAPP_APP_SECRET")
    return secret


def _cmd_phone(args: argparse.Namespace) -> int:
    from . import phone

    status = 0
    for number in args.numbers:
        try:
            _print_json({"input": number, **_jsonable(phone.parse(number, args.region))})
        except WacloudError as error:
            _print_json({"input": number, "error": str(error), "reason": getattr(error, "reason", None)})
            status = 1
    return status


def _cmd_sign(args: argparse.Namespace) -> int:
    from .security import sign

    print(sign(_secret(args), _read_input(args.file)))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .security import verify_signature

    valid = verify_signature(_secret(args), _read_input(args.file), args.signature)
    print("valid" if valid else "invalid")
    return 0 if valid else 1


def _cmd_hash(args: argparse.Namespace) -> int:
    from . import media

    status = 0
    for path in args.files:
        try:
            if args.check:
                _print_json({"path": path, **_jsonable(media.check(path, args.mime))})
            else:
                digest = media.sha256_file_base64(path) if args.base64 else media.sha256_file(path)
                print(f"{digest}  {path}")
        except (WacloudError, OSError) as error:
            _print_json({"path": path, "error": str(error)})
            status = 1
    return status


def _cmd_parse(args: argparse.Namespace) -> int:
    from .webhook import parse

    for event in parse(_read_input(args.file)):
        _print_json({"class": type(event).__name__, **_jsonable(event)})
    return 0


def _prog() -> str:
    """The name the user invoked: ``wacloud`` (the console script) or ``python -m wacloud``."""
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not invoked or invoked in ("__main__.py", "-c", "-m"):
        return "python -m wacloud"
    return invoked


def _build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or _prog(),
        description="WhatsApp Cloud API tools: phone numbers, webhook signatures, media hashes, "
        "webhook parsing, and the Cloud API sandbox.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    phone = commands.add_parser("phone", help="parse and normalize phone numbers (JSON lines)")
    phone.add_argument("numbers", nargs="+")
    phone.add_argument("--region", default=None, help="default region for national numbers, e.g. US")
    phone.set_defaults(handler=_cmd_phone)

    for name, handler, help_text in [
        ("sign", _cmd_sign, "print the X-Hub-Signature-256 of a body"),
        ("verify", _cmd_verify, "check an X-Hub-Signature-256 (exit 1 when invalid)"),
    ]:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("file", nargs="?", default="-", help="body file, or - for stdin")
        command.add_argument("--secret", help="app secret (default: $WHATSAPP_APP_SECRET)")
        if name == "verify":
            command.add_argument("--signature", required=True, help="the header value, sha256=<hex>")
        command.set_defaults(handler=handler)

    hash_ = commands.add_parser("hash", help="SHA-256 of media files, or --check them against Meta's rules")
    hash_.add_argument("files", nargs="+")
    hash_.add_argument("--base64", action="store_true", help="base64 digest, as Meta reports some hashes")
    hash_.add_argument("--check", action="store_true", help="check type and size limits (JSON lines)")
    hash_.add_argument("--mime", default=None, help="declared MIME type for --check")
    hash_.set_defaults(handler=_cmd_hash)

    parse = commands.add_parser("parse", help="parse a webhook body into events (JSON lines)")
    parse.add_argument("file", nargs="?", default="-", help="body file, or - for stdin")
    parse.set_defaults(handler=_cmd_parse)

    commands.add_parser("sandbox", help=f"run the Cloud API sandbox (see: {parser.prog} sandbox -h)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = _prog()
    if argv[:1] == ["sandbox"]:
        from .sandbox.cli import main as sandbox_main

        return sandbox_main(argv[1:], prog=f"{prog} sandbox")
    args = _build_parser(prog).parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0
    except (WacloudError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
