"""The mock's HTTP connections: kept alive between calls, never out of step, gone at stop.

A run's AWS calls reuse their clients' connections instead of paying a connection and a
server thread each. What must hold: every response answers its own request, whatever the
request before it left unread; a request of unknown length still gets its answer; and a
stopped (or parked, then forked) server leaves no thread serving an old connection.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gameday.journal import FixedClock
from gameday.scenario import Scenario
from gameday.world.account import LOOPBACK, MockAccount, _request_handler


def _post(connection: http.client.HTTPConnection, body: Any) -> Any:
    connection.request("POST", "/", body=body)
    response: Any = connection.getresponse()
    response.body = response.read()
    return response


def test_one_connection_answers_calls_one_after_another(mock_account: MockAccount) -> None:
    host, port = mock_account.address
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        answers = []
        for body in (b"Action=GetCallerIdentity&Version=2011-06-15", b"x" * 70_000, b""):
            response = _post(connection, body)
            answers.append(response)
            assert connection.sock is not None  # still open: nothing closed it
            assert not response.will_close
            assert response.getheader("Connection") is None
        first_socket = connection.sock
        assert all(a.status == 403 and b"<Code>AccessDenied</Code>" in a.body for a in answers)
        # each answer is its own request's, not the rest of an earlier one
        request_ids = {a.body.split(b"<RequestId>")[1].split(b"<")[0] for a in answers}
        assert len(request_ids) == 3
        _post(connection, b"")
        assert connection.sock is first_socket
    finally:
        connection.close()


def test_a_boto3_client_makes_its_calls_over_one_connection(mock_account: MockAccount) -> None:
    live = mock_account._server.live_connections
    sts = mock_account.client("sts", region="eu-west-1")
    sts.get_caller_identity()
    before = live.connections()
    for _ in range(10):
        assert sts.get_caller_identity()["Account"] == mock_account.account_id
    # none opened (others, idle since earlier tests, may have timed out meanwhile)
    assert live.connections() - before == set()


def test_an_idle_connection_is_closed_quietly_and_the_client_opens_another(
    mock_account: MockAccount, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = mock_account._server.live_connections
    # the idle timeout applies to connections accepted from now on, in this test only
    monkeypatch.setattr(mock_account._server.RequestHandlerClass, "timeout", 0.3)
    before = live.connections()
    sts = mock_account.client("sts", region="ap-southeast-2")  # a client of its own
    sts.get_caller_identity()
    (kept,) = live.connections() - before
    deadline = time.monotonic() + 10
    while kept in live.connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kept not in live.connections()  # the server hung up on it
    assert sts.get_caller_identity()["Account"] == mock_account.account_id  # and it reconnects
    assert "timed out" not in caplog.text  # nothing printed for the facilitator


def test_a_chunked_request_is_answered_on_a_connection_that_then_closes(
    mock_account: MockAccount,
) -> None:
    host, port = mock_account.address
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("POST", "/", body=iter([b"Action=", b"GetCallerIdentity"]))
        response = connection.getresponse()
        assert b"<Code>AccessDenied</Code>" in response.read()
        assert response.getheader("Connection") == "close"
        assert response.will_close
    finally:
        connection.close()


@pytest.fixture
def careless_server() -> Iterator[http.client.HTTPConnection]:
    """A connection to the mock's request handler in front of an app that never reads a
    request's body."""
    from werkzeug.serving import make_server

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        answer = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}".encode()
        start_response("200 OK", [("Content-Length", str(len(answer)))])
        return [answer]

    server = make_server(LOOPBACK, 0, app, threaded=True, request_handler=_request_handler())
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    connection = http.client.HTTPConnection(LOOPBACK, server.server_port, timeout=30)
    try:
        yield connection
    finally:
        connection.close()
        server.shutdown()
        server.server_close()


def test_a_body_the_app_left_unread_is_skipped_not_taken_for_the_next_request(
    careless_server: http.client.HTTPConnection,
) -> None:
    connection = careless_server
    # a body that looks like a request of its own: read as one, it would answer GET /evil
    smuggled = b"GET /evil HTTP/1.1\r\nHost: x\r\n\r\n"
    connection.request("POST", "/first", body=smuggled)
    first = connection.getresponse()
    assert first.read() == b"POST /first"
    assert not first.will_close
    connection.request("GET", "/second")
    assert connection.getresponse().read() == b"GET /second"


def test_a_large_body_left_unread_does_not_put_the_next_answer_out_of_step(
    careless_server: http.client.HTTPConnection,
) -> None:
    connection = careless_server
    connection.request("PUT", "/big", body=b"z" * (3 << 20))
    assert connection.getresponse().read() == b"PUT /big"
    # skipped to its end, or the connection closed and the client reconnects: either way
    # the next answer is the next request's
    connection.request("GET", "/after")
    assert connection.getresponse().read() == b"GET /after"


def _serving_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


def test_a_stopped_server_leaves_no_thread_on_a_kept_connection(
    seed_scenario: Scenario,
) -> None:
    # a parked account is forked by the warm start; a fork must find one thread, not a
    # thread blocked reading the next request of a connection a client kept
    before = set(_serving_threads())
    account = MockAccount(
        seed_scenario.account.id, FixedClock(), regions=seed_scenario.account.regions
    ).start()
    try:
        sts = account.client("sts", region="us-east-1")
        sts.get_caller_identity()
        host, port = account.address
        idle = http.client.HTTPConnection(host, port, timeout=30)
        _post(idle, b"")
        assert set(_serving_threads()) - before  # kept, waiting for the next request
        account.park()
        assert set(_serving_threads()) - before == set()
        account.unpark()
        assert account.client("sts", region="us-east-1").get_caller_identity()["Account"]
        idle.close()
    finally:
        account.stop()
    assert set(_serving_threads()) - before == set()
