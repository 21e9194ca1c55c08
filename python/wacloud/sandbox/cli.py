"""Command line: ``python -m wacloud.sandbox --port 8765 --webhook-url URL ...``
(also ``python -m wacloud sandbox ...``). Runs until interrupted; the state file,
when given, is saved periodically and on exit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from .config import Faults, SandboxConfig


def build_parser(prog: str = "python -m wacloud.sandbox") -> argparse.ArgumentParser:
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A local stand-in for Meta's WhatsApp Cloud API (control API under /_sandbox).",
    )
    account = parser.add_argument_group("account")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="the port to listen on (default 8765)")
    account.add_argument("--access-token", required=True, help="the bearer token Graph requests must carry")
    account.add_argument("--phone-number-id", required=True)
    account.add_argument("--waba-id", default=defaults.waba_id)
    account.add_argument(
        "--app-secret", default=defaults.app_secret, help="signs webhooks (X-Hub-Signature-256)"
    )
    account.add_argument("--display-phone-number", default=defaults.display_phone_number)
    account.add_argument("--verified-name", default=defaults.verified_name)
    account.add_argument(
        "--managed-business",
        action="store_true",
        help="a managed business: webhooks also carry parent business-scoped user ids",
    )
    parser.add_argument("--webhook-url", help="where webhooks are POSTed (none: no webhooks)")
    parser.add_argument("--state", dest="state_file", help="JSON file keeping state across restarts")
    limits = parser.add_argument_group("limits and timing")
    limits.add_argument(
        "--messages-per-second",
        type=float,
        default=defaults.messages_per_second,
        help="throughput before 130429 (0: unlimited)",
    )
    limits.add_argument(
        "--pair-rate",
        type=float,
        default=defaults.pair_rate_per_second,
        help="messages/s to one recipient before 131056 (0: unlimited)",
    )
    limits.add_argument("--pair-burst", type=int, default=defaults.pair_burst)
    limits.add_argument("--window-errors", choices=("sync", "async"), default=defaults.window_errors)
    limits.add_argument("--template-review-seconds", type=float, default=defaults.template_review_seconds)
    limits.add_argument("--webhook-retry-base", type=float, default=defaults.webhook_retry_base)
    limits.add_argument("--webhook-retry-max", type=float, default=defaults.webhook_retry_max)
    limits.add_argument(
        "--webhook-retry-window",
        type=float,
        default=defaults.webhook_retry_window,
        help="seconds after which a delivery is given up (default: Meta's 7 days)",
    )
    limits.add_argument(
        "--webhook-max-attempts", type=int, default=defaults.webhook_max_attempts, help="(default: no cap)"
    )
    limits.add_argument("--seed", type=int, help="seed for the fault dice")
    parser.add_argument(
        "--no-spec-validation",
        dest="spec_validation",
        action="store_false",
        help="do not check requests against Meta's OpenAPI spec (checked by default)",
    )
    faults = parser.add_argument_group("faults")
    for name, value in Faults().as_dict().items():
        faults.add_argument(
            "--" + name.replace("_", "-"), type=type(value), default=value, dest="fault_" + name
        )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    fault_values = {k[len("fault_") :]: v for k, v in vars(args).items() if k.startswith("fault_")}
    faults = Faults()
    faults.update(fault_values)
    return SandboxConfig(
        access_token=args.access_token,
        phone_number_id=args.phone_number_id,
        waba_id=args.waba_id,
        app_secret=args.app_secret,
        webhook_url=args.webhook_url,
        host=args.host,
        port=args.port,
        display_phone_number=args.display_phone_number,
        verified_name=args.verified_name,
        managed_business=args.managed_business,
        state_file=args.state_file,
        messages_per_second=args.messages_per_second or None,
        pair_rate_per_second=args.pair_rate or None,
        pair_burst=args.pair_burst,
        window_errors=args.window_errors,
        template_review_seconds=args.template_review_seconds,
        webhook_retry_base=args.webhook_retry_base,
        webhook_retry_max=args.webhook_retry_max,
        webhook_retry_window=args.webhook_retry_window,
        webhook_max_attempts=args.webhook_max_attempts,
        seed=args.seed,
        spec_validation=args.spec_validation,
        faults=faults,
    )


async def serve(config: SandboxConfig) -> None:
    from .server import Server, tune_gc_for_serving, tune_malloc_for_serving  # aiohttp only when serving

    server = Server(config)
    await server.start()
    tune_gc_for_serving()
    tune_malloc_for_serving()
    print(
        f"wacloud sandbox on {server.core.public_url} (control API: {server.core.public_url}/_sandbox)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None, prog: str = "python -m wacloud.sandbox") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        import aiohttp  # noqa: F401  (the server; an optional dependency)
    except ImportError:
        print('error: the sandbox needs aiohttp: pip install "wacloud[sandbox]"', file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config))
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
