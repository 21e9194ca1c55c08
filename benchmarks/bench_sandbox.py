"""Sandbox throughput: ``POST /v21.0/{phone-number-id}/messages`` text sends over
keep-alive connections, against a bare aiohttp app answering the same JSON.

The baseline app reads each send, checks it, and answers Meta's success shape with a
fresh id (json + base64, as a minimal fake would); a constant answer is measured too
as aiohttp's floor, and the same app with the sandbox's allocator setting (glibc's mmap
threshold raised above asyncio's 256 KiB socket reads), so that what that setting buys
the sandbox is shown apart from its own work. The sandbox is measured with Meta's-spec
request checking off (``--no-spec-validation``) and on (its default).

The server runs in its own process (one event loop, so one core); the client is a
separate process driving raw keep-alive sockets, so it costs little. Prints
requests/s for both and their ratio (the sandbox's cost over aiohttp itself), then the
paired ratio: the baseline and the sandbox serving at the same time on one core, so the
machine's other load falls on both alike (the steadier figure on a shared machine)."""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from multiprocessing import Process, Queue

TOKEN = "bench-token"
PHONE_NUMBER_ID = "106540352242922"
RECIPIENTS = [f"1555010{i:04d}" for i in range(200)]

BASELINE_APP = r"""
import base64, itertools, json, sys
from aiohttp import web
CONSTANT = sys.argv[2] == "constant"
if sys.argv[2] == "tuned":  # the sandbox's own allocator setting
    from wacloud.sandbox.server import tune_malloc_for_serving
    tune_malloc_for_serving()
BODY = (b'{"messaging_product":"whatsapp","contacts":[{"input":"15550100000","wa_id":"15550100000"}],'
        b'"messages":[{"id":"wamid.HBgLMTU1NTAxMDAwMDAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}')
sequence = itertools.count()
async def send(request):
    raw = await request.read()
    if CONSTANT:
        return web.Response(body=BODY, content_type="application/json")
    params = json.loads(raw)  # what any fake Cloud API does: read the send, answer it
    if params.get("messaging_product") != "whatsapp" or not params.get("to"):
        raise web.HTTPBadRequest()
    to = params["to"]
    wamid = "wamid." + base64.b64encode(f"{to}:{next(sequence):x}".encode()).decode()
    answer = {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
              "messages": [{"id": wamid}]}
    body = json.dumps(answer, separators=(",", ":")).encode()
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_post("/{version}/{node}/messages", send)
app.router.add_get("/_sandbox", lambda r: web.Response(text="ok"))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox", timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def request_bytes(port: int, to: str) -> bytes:
    body = json.dumps(
        {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "benchmark message"}}
    ).encode()
    head = (
        f"POST /v21.0/{PHONE_NUMBER_ID}/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def client(port: int, connections: int, seconds: float, results: Queue) -> None:
    """Keep ``connections`` sockets each with one request in flight; count 200 answers."""
    requests = [request_bytes(port, to) for to in RECIPIENTS]
    selector = selectors.DefaultSelector()
    state = {}
    for index in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        state[sock] = [index, b""]
        sock.sendall(requests[index % len(requests)])
        selector.register(sock, selectors.EVENT_READ)
    ok = failed = 0
    sent = connections
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            entry = state[sock]
            entry[1] += sock.recv(65536)
            while True:
                buffer = entry[1]
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buffer[:end].decode("latin-1").lower()
                length = int(head.split("content-length:")[1].split("\r\n")[0])
                if len(buffer) < end + 4 + length:
                    break
                if head.startswith("http/1.1 200"):
                    ok += 1
                else:
                    failed += 1
                entry[1] = buffer[end + 4 + length :]
                sent += 1
                sock.sendall(requests[sent % len(requests)])
    results.put((ok, failed, seconds))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(port: int, connections: int, seconds: float, server_pid: int) -> tuple[float, float, int]:
    """(requests/s of wall time, requests per CPU-second of the server, non-200 answers).
    The second figure is what one core sustains, whatever else the machine is running."""
    results: Queue = Queue()
    worker = Process(target=client, args=(port, connections, seconds, results))
    cpu_before = cpu_seconds(server_pid)
    worker.start()
    ok, failed, elapsed = results.get()
    cpu_used = cpu_seconds(server_pid) - cpu_before
    worker.join()
    return ok / elapsed, (ok / cpu_used if cpu_used else 0.0), failed


def baseline_app(port: int, kind: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BASELINE_APP, str(port), kind])


def start_sandbox(port: int, spec_validation: bool, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    command = [
        sys.executable,
        *prefix,
        "-m",
        "wacloud.sandbox",
        "--port",
        str(port),
        "--access-token",
        TOKEN,
        "--phone-number-id",
        PHONE_NUMBER_ID,
        "--messages-per-second",
        "0",
        "--pair-rate",
        "0",
        *([] if spec_validation else ["--no-spec-validation"]),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def open_windows(port: int) -> None:
    # Text sends need an open 24-hour window: every recipient writes first.
    for wa_id in RECIPIENTS:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_sandbox/inbound",
            data=json.dumps({"from": wa_id, "type": "text", "text": "hi"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request).read()


def pin(process: subprocess.Popen, cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(process.pid, {cpu})


def paired(rounds: int, seconds: float, connections: int) -> dict[str, list[float]]:
    """The baseline and the sandbox (checks off, on) serving at the same time, all pinned to
    core 0, each driven by its own client: requests per server CPU-second of each, round by
    round. Whatever else loads the machine falls on the three alike, so the ratio taken within
    a round is far steadier than one of runs taken one after the other."""
    starts = {
        "same": lambda port: baseline_app(port, "same"),
        "off": lambda port: start_sandbox(port, spec_validation=False),
        "on": lambda port: start_sandbox(port, spec_validation=True),
    }
    rates: dict[str, list[float]] = {name: [] for name in starts}
    for _ in range(rounds):
        servers: dict[str, tuple[int, subprocess.Popen]] = {}
        try:
            for name, start in starts.items():
                port = free_port()
                servers[name] = (port, start(port))
                pin(servers[name][1], 0)
            for name, (port, _server) in servers.items():
                wait_until_up(port)
                if name != "same":
                    open_windows(port)
            queues = {name: Queue() for name in servers}
            before = {name: cpu_seconds(server.pid) for name, (_port, server) in servers.items()}
            clients = [
                Process(target=client, args=(port, connections, seconds, queues[name]))
                for name, (port, _server) in servers.items()
            ]
            for worker in clients:
                worker.start()
            answered = {name: queue.get() for name, queue in queues.items()}
            for name, (_port, server) in servers.items():
                ok, failed, _ = answered[name]
                if failed:
                    raise RuntimeError(f"{name}: {failed} requests were not answered 200")
                rates[name].append(ok / max(cpu_seconds(server.pid) - before[name], 1e-9))
            for worker in clients:
                worker.join()
        finally:
            for _port, server in servers.values():
                server.terminate()
                server.wait()
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best counts")
    parser.add_argument("--target-rps", type=float, default=3000.0, help="the rate the sandbox should reach")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))  # client side off core 0

    # Baselines: the same sends answered the same JSON (parsed, a fresh id, serialized),
    # which the 0.8x target is measured against, and a constant answer (aiohttp's floor).
    # Meta's-spec request checking (sandbox/conformance.py) is on by default: measured off and on.
    # Rounds alternate the five servers and each keeps its best round, so a burst of load from
    # elsewhere on the machine does not land on one side only.
    servers = {
        "constant": lambda port: baseline_app(port, "constant"),
        "same": lambda port: baseline_app(port, "same"),
        "tuned": lambda port: baseline_app(port, "tuned"),
        False: lambda port: start_sandbox(port, spec_validation=False),
        True: lambda port: start_sandbox(port, spec_validation=True),
    }
    runs: dict[object, tuple[float, float, int]] = {}
    for _ in range(args.rounds):
        for key, start in servers.items():
            port = free_port()
            server = start(port)
            try:
                pin(server, 0)
                wait_until_up(port)
                if key in (False, True):
                    open_windows(port)
                rps, cpu_rps, failed = measure(port, args.connections, args.seconds, server.pid)
            finally:
                server.terminate()
                server.wait()
            best_rps, best_cpu, failed_before = runs.get(key, (0.0, 0.0, 0))
            runs[key] = (max(best_rps, rps), max(best_cpu, cpu_rps), failed_before + failed)
    baseline_rps, baseline_cpu_rps, _ = runs["same"]
    sandbox_runs = {key: runs[key] for key in (False, True)}

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"sandbox text sends vs bare aiohttp, best of {args.rounds} alternating rounds "
          f"(load average {load:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip
    print("                                    requests/s   per server CPU-second   ratio (wall, CPU)")
    constant_rps, constant_cpu_rps, _ = runs["constant"]
    print(f"bare aiohttp, constant answer:      {constant_rps:10.0f}   {constant_cpu_rps:10.0f}")
    print(f"bare aiohttp, same answer (base):   {baseline_rps:10.0f}   {baseline_cpu_rps:10.0f}")
    tuned_rps, tuned_cpu_rps, _ = runs["tuned"]
    print(f"  ... with the sandbox's malloc setting:{tuned_rps:8.0f}   {tuned_cpu_rps:10.0f}")
    failed = 0
    best = 0.0
    for spec_validation, (rps, cpu_rps, run_failed) in sandbox_runs.items():
        label = "sandbox, spec validation " + ("on:  " if spec_validation else "off: ")
        wall_ratio, cpu_ratio = rps / baseline_rps, cpu_rps / (baseline_cpu_rps or 1)
        print(f"{label}     {rps:10.0f}   {cpu_rps:10.0f}   {wall_ratio:10.2f} {cpu_ratio:6.2f}"
              f"   ({run_failed} non-200)")  # fmt: skip
        failed += run_failed
        best = max(best, rps, cpu_rps)
    # The goal is against the bare app as people write it; the sandbox's allocator setting
    # (1 MiB mmap threshold, glibc) would speed that app too, which this ratio shows.
    print(f"sandbox (checks off) against the baseline with the same malloc setting: "
          f"{sandbox_runs[False][1] / (tuned_cpu_rps or 1):.2f} (CPU)")  # fmt: skip
    rates = paired(max(args.rounds, 3), args.seconds, max(1, args.connections // 2))
    print(f"paired: baseline and sandbox serving at once on one core, {len(rates['same'])} rounds; "
          "ratio of requests per server CPU-second within each round")  # fmt: skip
    for name, label in (("off", "spec validation off"), ("on", "spec validation on ")):
        ratios = sorted(mine / base for mine, base in zip(rates[name], rates["same"], strict=True))
        print(f"sandbox, {label}:   median {statistics.median(ratios):.2f}   rounds "
              + " ".join(f"{ratio:.2f}" for ratio in ratios))  # fmt: skip
    # Wall-clock rates depend on what else the machine runs; CPU-second rates much less.
    print(f"target: 0.8x the baseline; per core, {args.target_rps:.0f} requests/s "
          f"({'met' if best >= args.target_rps else 'not met'})")  # fmt: skip
    if failed:
        print(f"FAIL: {failed} requests were not answered 200", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
