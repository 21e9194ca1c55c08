"""The sandbox counts the Graph requests it answers, so tests can prove a client did not
hammer a failing Meta."""

from __future__ import annotations

from sandbox_support import USER

TEMPLATE = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


def test_graph_requests_counts_answered_and_faulted_requests_but_not_the_control_api(graph, wa_sandbox):
    before = wa_sandbox.graph_requests()
    assert graph.send(to=USER, **TEMPLATE).status == 200
    wa_sandbox.set_faults(error_rate=1.0)
    assert graph.send(to=USER, **TEMPLATE).status >= 500
    graph.control("GET", "/faults")
    wa_sandbox.clear_faults()  # clearing the faults keeps the count
    assert wa_sandbox.graph_requests() - before == 2
    assert len(wa_sandbox.sent_messages()) == 1
