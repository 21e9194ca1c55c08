"""Bulk sending: wacloud's ``Client.send_many`` (C++, curl multi, GIL released)
against the Python peer, ``httpx.AsyncClient`` with the same concurrency, both
sending to the same fast local server that answers with Meta's success shape.

Each side runs in a fresh process so its peak-RSS delta is its own. Prints
messages per second, peak RSS growth per 10k sends, and the ratios.

    python benchmarks/bench_send.py [--messages 10000] [--concurrency 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import time

PHONE_ID = "106540352242922"
TOKEN = "EAAG-benchmark-token"


def serve(port: int, ready: multiprocessing.synchronize.Event) -> None:
    """A low-level aiohttp server: the messages endpoint answers as Meta does."""
    import asyncio

    from aiohttp import web

    counter = 0

    async def handle(request: web.BaseRequest) -> web.Response:
        nonlocal counter
        payload = json.loads(await request.read())
        counter += 1
        to = payload["to"]
        body = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.BENCH{counter:010d}"}],
        }
        return web.Response(body=json.dumps(body).encode(), content_type="application/json")

    async def main() -> None:
        server = web.Server(handle, access_log=None)
        runner = web.ServerRunner(server, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def use_core_from_environment() -> None:
    """``WACLOUD_CORE_PATH=/path/to/_core*.so``: benchmark a core from another
    build tree, as tests/conftest.py does."""
    path = os.environ.get("WACLOUD_CORE_PATH")
    if path:
        import importlib.util

        spec = importlib.util.spec_from_file_location("wacloud._core", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["wacloud._core"] = module
        spec.loader.exec_module(module)


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def recipients(count: int) -> list[str]:
    return [f"1650555{i % 10000:04d}" for i in range(count)]


def run_wacloud(base_url: str, count: int, concurrency: int) -> dict:
    use_core_from_environment()
    import wacloud
    from wacloud.messages import Text

    client = wacloud.Client(TOKEN, PHONE_ID, base_url=base_url)
    client.send_many([(to, Text("warm-up")) for to in recipients(concurrency)], concurrency)
    items = [(to, Text(f"Your order {i} has shipped")) for i, to in enumerate(recipients(count))]
    baseline = peak_rss_kib()
    started = time.perf_counter()
    results = client.send_many(items, concurrency)
    elapsed = time.perf_counter() - started
    failures = sum(not isinstance(r, wacloud.SendResult) for r in results)
    return {"seconds": elapsed, "failures": failures, "rss_delta_kib": peak_rss_kib() - baseline}


def run_httpx(base_url: str, count: int, concurrency: int) -> dict:
    import asyncio

    import httpx

    url = f"{base_url}/v21.0/{PHONE_ID}/messages"
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def send_all(texts: list[tuple[str, str]]) -> tuple[float, int]:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:
            gate = asyncio.Semaphore(concurrency)

            async def send(to: str, text: str) -> bool:
                payload = {
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": to,
                    "type": "text",
                    "text": {"preview_url": False, "body": text},
                }
                async with gate:
                    response = await client.post(url, json=payload)
                return response.status_code == 200 and bool(response.json()["messages"][0]["id"])

            await asyncio.gather(*(send(to, "warm-up") for to in recipients(concurrency)))
            started = time.perf_counter()
            ok = await asyncio.gather(*(send(to, text) for to, text in texts))
            return time.perf_counter() - started, ok.count(False)

    texts = [(to, f"Your order {i} has shipped") for i, to in enumerate(recipients(count))]
    baseline = peak_rss_kib()
    elapsed, failures = asyncio.run(send_all(texts))
    return {"seconds": elapsed, "failures": failures, "rss_delta_kib": peak_rss_kib() - baseline}


def measure(side: str, base_url: str, count: int, concurrency: int) -> dict:
    """One run of `side` in a fresh interpreter."""
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--side",
            side,
            "--base-url",
            base_url,
            "--messages",
            str(count),
            "--concurrency",
            str(concurrency),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--side", choices=["wacloud", "httpx"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.side:
        run = run_wacloud if args.side == "wacloud" else run_httpx
        print(json.dumps(run(args.base_url, args.messages, args.concurrency)))
        return

    port = free_port()
    ready = multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the benchmark server did not start")
        base_url = f"http://127.0.0.1:{port}"
        best: dict[str, dict] = {}
        for _ in range(args.rounds):
            for side in ("wacloud", "httpx"):
                result = measure(side, base_url, args.messages, args.concurrency)
                if result["failures"]:
                    raise SystemExit(f"{side}: {result['failures']} sends failed")
                if side not in best or result["seconds"] < best[side]["seconds"]:
                    best[side] = result
    finally:
        server.terminate()

    print(f"send_many: {args.messages} text messages, concurrency {args.concurrency}, best of {args.rounds}")
    print(f"{'':24}{'msg/s':>10}{'peak RSS +KiB/10k':>20}")
    rates = {}
    for side, label in (("wacloud", "wacloud send_many"), ("httpx", "httpx.AsyncClient")):
        rates[side] = args.messages / best[side]["seconds"]
        per_10k = best[side]["rss_delta_kib"] * 10_000 / args.messages
        print(f"{label:24}{rates[side]:>10.0f}{per_10k:>20.0f}")
    print(f"ratio wacloud / httpx: {rates['wacloud'] / rates['httpx']:.1f}x")


if __name__ == "__main__":
    main()
