"""The gate in front of every route (sandbox/server.py): each failure leaves as Meta's error
object, whatever raised it, and the control API is never gated. Also the command line's
garbage-collection setting (a process of its own)."""

from __future__ import annotations

import platform
import subprocess
import sys

from sandbox_support import assert_valid_error


def test_an_unknown_path_and_a_wrong_method_are_metas_unknown_object(graph):
    for method, path in (("GET", "/12345/no_such_edge"), ("PUT", f"/{graph.phone}/messages")):
        error = assert_valid_error(graph.request(method, path), 100, 400)
        assert error["error_subcode"] == 33
        assert f"Unsupported {method.lower()} request" in error["message"]


def test_a_bug_in_a_handler_is_metas_unknown_error_and_the_next_send_works(
    graph, wa_sandbox, open_window, monkeypatch
):
    core = wa_sandbox._core

    def broken(*args, **kwargs):
        raise RuntimeError("sandbox bug")

    monkeypatch.setattr(core, "record_send", broken)
    error = assert_valid_error(graph.text(to=open_window), 1, 400)
    assert error["message"] == "(#1) An unknown error occurred"
    monkeypatch.undo()
    assert graph.text(to=open_window).status == 200


def test_a_fault_set_after_quiet_requests_applies_at_once(graph, wa_sandbox, open_window):
    assert graph.text(to=open_window).status == 200  # no fault: the quiet path
    wa_sandbox.set_faults(rate_limit_next=1)
    assert_valid_error(graph.text(to=open_window), 130429, 400)
    assert graph.text(to=open_window).status == 200


def test_the_control_api_needs_no_token(graph):
    assert graph.control("GET", "/faults").status == 200


def test_the_command_line_process_collects_less_often_and_freezes_what_it_loaded():
    code = (
        "import gc\n"
        "from wacloud.sandbox.server import tune_gc_for_serving\n"
        "tune_gc_for_serving()\n"
        "print(gc.get_threshold()[0], gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["20000", "True"]


def test_the_command_line_process_keeps_socket_reads_off_mmap():
    # glibc: the threshold is raised above asyncio's 256 KiB reads; elsewhere nothing is changed.
    code = "from wacloud.sandbox.server import tune_malloc_for_serving\nprint(tune_malloc_for_serving())\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(platform.libc_ver()[0] == "glibc")]


def test_an_unknown_path_is_checked_for_a_token_first(graph):
    reply = graph.request("GET", "/12345/no_such_edge", token="not-a-token")
    assert_valid_error(reply, 190, 401)


def test_an_unknown_control_path_is_metas_unknown_object_without_a_token(graph):
    error = assert_valid_error(graph.control("GET", "/no_such_thing"), 100, 400)
    assert error["error_subcode"] == 33


def test_a_request_handed_on_to_the_next_route_passes_the_gate_once(graph, wa_sandbox):
    before = wa_sandbox.graph_requests()
    # Numeric: the template route sees it first, finds no template and hands it on (node_routes).
    assert_valid_error(graph.request("GET", "/987654321"), 100, 400)
    assert wa_sandbox.graph_requests() == before + 1
