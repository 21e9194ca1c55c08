"""What the rate-limiter accuracy tests share: the budget they measure against,
and limiters run in separate processes from a common start."""

from __future__ import annotations

import json
import subprocess
import sys
import time

RATE = 200.0
SECONDS = 2.0
EXPECTED = 1 + RATE * SECONDS  # burst 1, then one per 1/RATE

# Runs one limiter in a separate process from a common wall clock start and
# prints how many sends it was granted. Loads the same core as this session.
CHILD = r"""
import importlib.util, json, os, sys, time
core = os.environ.get("WACLOUD_CORE_PATH")
if core:
    spec = importlib.util.spec_from_file_location("wacloud._core", core)
    module = importlib.util.module_from_spec(spec)
    sys.modules["wacloud._core"] = module
    spec.loader.exec_module(module)
from wacloud.ratelimit import create_rate_limiter
options, start, seconds = json.loads(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
limiter = create_rate_limiter(**options)
while time.time() < start:
    time.sleep(0.001)
granted = 0
while time.time() < start + seconds:
    granted += limiter.acquire("pn", timeout=0.5)
print(granted)
"""


def run_processes(options: dict, processes: int, seconds: float) -> list[int]:
    start = time.time() + 1.5  # time for every child to import and open
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(options), repr(start), repr(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    counts = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        counts.append(int(out))
    return counts


def granted_in(limiter, seconds: float) -> int:
    granted = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        granted += limiter.acquire("pn")
    return granted
