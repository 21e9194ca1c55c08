"""README's quick start, as written: a fresh ``django-admin startproject``, the
README's code blocks pasted into the files they name, its commands run (the
servers in the background on ports from the OS), until a signed inbound webhook
is stored and the reply is read.

It runs on the current install; with ``WACLOUD_WHEEL=path/to/wacloud-*.whl`` it
first makes a fresh virtual environment in a temporary folder and installs that
wheel there, with the extras README's ``pip install`` line names."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
WHEEL = os.environ.get("WACLOUD_WHEEL")
# README's own port numbers, replaced by free ones in every command line.
README_SITE_PORT, README_SANDBOX_PORT = "8000", "8765"
COMMAND_TIMEOUT = 60
SERVER_START_TIMEOUT = 30
POLL = 0.1


def quick_start_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, code)`` of each fenced block in README's "Quick start" section."""
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```(\w+)\n(.*?)^```", section, flags=re.S | re.M)


def command_lines(code: str) -> list[str]:
    """The commands of a bash block: continuations joined, comment lines dropped."""
    joined = code.replace("\\\n", " ")
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server on port {port} exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(POLL)
    raise AssertionError(f"nothing listens on port {port} after {SERVER_START_TIMEOUT}s:\n{log.read_text()}")


class QuickStart:
    """A shell session following README: environment, working folder, background servers."""

    def __init__(self, workdir: Path, bin_dir: Path, logs: Path) -> None:
        self.cwd = workdir
        self.logs = logs
        keep = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "WHATSAPP_", "WACLOUD_", "PYTHON", "VIRTUAL_ENV"))
        }
        self.env = {**keep, "PATH": f"{bin_dir}{os.pathsep}{keep.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
        self.ports = {README_SITE_PORT: str(free_port()), README_SANDBOX_PORT: str(free_port())}
        self.servers: list[tuple[subprocess.Popen, Path]] = []
        self.outputs: list[tuple[str, str]] = []

    def with_ports(self, line: str) -> str:
        for written, port in self.ports.items():
            line = line.replace(written, port)
        return line

    def run_bash(self, code: str) -> None:
        for line in command_lines(code):
            self.run_line(self.with_ports(line))

    def run_line(self, line: str) -> None:
        if line.startswith("pip install"):
            return  # done before: the current install, or the wheel in a fresh environment
        if line.startswith("cd "):
            self.cwd = self.cwd / shlex.split(line)[1]
        elif line.startswith("export "):
            self.export(line)
        elif line.endswith("&") or re.search(r"&\s+#", line):
            self.start_server(line.split("&")[0].strip())
        elif line.startswith("curl "):
            self.curl(shlex.split(line.split(" #")[0]))
        else:
            self.run(line)

    def run(self, line: str) -> str:
        result = subprocess.run(
            ["bash", "-c", line], cwd=self.cwd, env=self.env, capture_output=True, text=True,
            timeout=COMMAND_TIMEOUT,
        )  # fmt: skip
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{line}\n{output}\n{self.server_logs()}"
        self.outputs.append((line, output))
        return output

    def export(self, line: str) -> None:
        printed = subprocess.run(
            ["bash", "-c", f"{line}\nenv -0"], cwd=self.cwd, env=self.env, capture_output=True,
            timeout=COMMAND_TIMEOUT, check=True,
        ).stdout.decode()  # fmt: skip
        self.env = dict(item.split("=", 1) for item in printed.split("\0") if "=" in item)

    def start_server(self, line: str) -> None:
        log = self.logs / f"server-{len(self.servers)}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {line}"], cwd=self.cwd, env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.servers.append((process, log))
        # The port it listens on stands alone ("runserver 8000", "--port 8765"), unlike one in a URL.
        port = next(word for word in line.split() if word in self.ports.values())
        wait_for_port(int(port), process, log)

    def curl(self, words: list[str]) -> None:
        """``curl -X POST URL -H ... -d DATA`` without needing curl installed."""
        url, headers, data, method = "", {}, None, "GET"
        items = iter(words[1:])
        for word in items:
            if word == "-X":
                method = next(items)
            elif word == "-H":
                name, value = next(items).split(":", 1)
                headers[name.strip()] = value.strip()
            elif word in ("-d", "--data"):
                data = next(items).encode()
            else:
                url = word
        stored_before = inbound_count(self.cwd / "db.sqlite3")
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=COMMAND_TIMEOUT) as response:
            assert 200 <= response.status < 300
            self.outputs.append((" ".join(words), response.read().decode()))
        if url.endswith("/_sandbox/inbound"):
            # The sandbox posts the webhook on its own; a reader waits for runserver's
            # "Ana wrote: ..." before answering, and so does this.
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while inbound_count(self.cwd / "db.sqlite3") == stored_before:
                assert time.monotonic() < deadline, f"no inbound message stored:\n{self.server_logs()}"
                time.sleep(POLL)

    def paste(self, code: str) -> None:
        """A python block headed ``# path (...)``: a new file, or added at the end of that file."""
        header = code.partition("\n")[0]
        found = re.match(r"#\s+(\S+\.py)\b(.*)", header)
        assert found, f"a README python block must start with '# <file>': {header!r}"
        target = self.cwd / found.group(1)
        if "new file" in found.group(2):
            assert not target.exists(), target
            target.write_text(code)
        else:
            assert target.exists(), f"README adds to {target}, which startproject/startapp did not create"
            with open(target, "a") as handle:
                handle.write("\n" + code)

    def shell(self, code: str) -> str:
        return self.run(f"python manage.py shell -c {shlex.quote(code)}")

    def server_logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for _, log in self.servers if log.exists())

    def stop(self) -> None:
        for process, _ in self.servers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process, _ in self.servers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def environment(tmp_path: Path, blocks: list[tuple[str, str]]) -> Path:
    """The bin folder to run in: this interpreter's, or a fresh venv holding ``WACLOUD_WHEEL``."""
    if not WHEEL:
        return Path(sys.executable).parent
    install = next(
        line for _, code in blocks for line in command_lines(code) if line.startswith("pip install")
    )
    extras = re.search(r"wacloud(\[[\w,]+\])", install)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    requirement = str(Path(WHEEL).resolve()) + (extras.group(1) if extras else "")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", requirement], check=True, timeout=600
    )
    return venv / "bin"


def query(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db, timeout=10)) as connection:
        return connection.execute(sql).fetchall()


def inbound_count(db: Path) -> int:
    return query(db, "SELECT COUNT(*) FROM wacloud_message WHERE direction = 'inbound'")[0][0]


def outbound_rows(db: Path) -> list[tuple]:
    return query(
        db,
        "SELECT c.wa_id, m.type, m.text, m.status FROM wacloud_message m "
        "JOIN wacloud_contact c ON c.id = m.contact_id WHERE m.direction = 'outbound' ORDER BY m.id",
    )


@pytest.mark.timeout(900 if WHEEL else 120)
def test_readme_quick_start_runs_as_written(tmp_path):
    blocks = quick_start_blocks(README.read_text())
    assert [language for language, _ in blocks].count("bash") >= 2, "README's quick start lost its commands"
    (tmp_path / "logs").mkdir()
    (tmp_path / "work").mkdir()
    session = QuickStart(tmp_path / "work", environment(tmp_path, blocks), tmp_path / "logs")
    try:
        for language, code in blocks:
            if language == "bash":
                session.run_bash(code)
            elif code.startswith("# python manage.py shell"):
                session.shell(code)
            else:
                session.paste(code)
        project = session.cwd
        db = project / "db.sqlite3"
        # The reply's statuses come back from the sandbox as signed webhooks.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rows = outbound_rows(db)
            if ("15550001111", "text", "Yes, in two days.", "read") in rows:
                break
            time.sleep(POLL)
        inbound = query(
            db,
            "SELECT m.text, c.name FROM wacloud_message m JOIN wacloud_contact c ON c.id = m.contact_id "
            "WHERE m.direction = 'inbound'",
        )
        logs = session.server_logs()
    finally:
        session.stop()
    assert inbound == [("Hi! Do you ship to Lisbon?", "Ana")], logs
    assert ("15550001111", "text", "Yes, in two days.", "read") in rows, (rows, logs)
    assert "Ana wrote: Hi! Do you ship to Lisbon?" in logs  # the receiver in shop/receivers.py ran
    connection_test = [
        out for line, out in session.outputs if line.startswith("python manage.py test_whatsapp")
    ]
    assert connection_test and "Connected: Sandbox Business" in connection_test[0]
    # From the shell: a text inside the customer's window, a template to a number that never wrote.
    sent = {(wa_id, kind): status for wa_id, kind, _, status in rows}
    assert sent[("15550001111", "text")] != "failed" and sent[("15550002222", "template")] != "failed", rows
    typed = (
        "import pathlib, wacloud_django; "
        "print(pathlib.Path(wacloud_django.__file__).with_name('py.typed').is_file())"
    )
    assert session.run(f'python -c "{typed}"').strip() == "True"  # type hints ship with the package
