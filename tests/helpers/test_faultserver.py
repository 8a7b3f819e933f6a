"""The fault server itself (tests/helpers/faultserver.py), where the tests that use it
rely on more than its answers."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from helpers.faultserver import FaultServer


@pytest.mark.timeout(10)  # the drip lasts minutes: a close() that waited for it fails here
def test_close_does_not_wait_for_a_dripping_connection_and_ends_it():
    server = FaultServer().start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(b"GET /drip HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b" 200 " in client.recv(65536)  # the drip is under way
        server.close()
        while client.recv(65536):  # the body ends with the connection
            pass
    assert server.hits("/drip") == 1


# Conditional GETs as the tests of ingest's 304 handling rely on them.
@pytest.mark.parametrize("request_headers, status", [
    ({}, 200),
    ({"If-None-Match": '"v7"'}, 304),
    ({"If-None-Match": 'W/"v7", "other"'}, 304),
    ({"If-None-Match": "*"}, 304),
    ({"If-None-Match": '"v6"'}, 200),
    ({"If-None-Match": '"v6"', "If-Modified-Since": "Mon, 03 Jun 2024 10:00:00 GMT"}, 200),
    ({"If-Modified-Since": "Mon, 03 Jun 2024 10:00:00 GMT"}, 304),
    ({"If-Modified-Since": "Tue, 04 Jun 2024 08:00:00 GMT"}, 304),
    ({"If-Modified-Since": "Sun, 02 Jun 2024 10:00:00 GMT"}, 200),
    ({"If-Modified-Since": "not a date"}, 200),
])
def test_fault_server_answers_conditional_requests(request_headers, status):
    with FaultServer() as server:
        server.add("/feed.xml", b"<rss/>", {"Content-Type": "application/rss+xml", "ETag": '"v7"',
                                            "Last-Modified": "Mon, 03 Jun 2024 10:00:00 GMT"})
        request = urllib.request.Request(server.url("/feed.xml"), headers=request_headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                got, body, etag = response.status, response.read(), response.headers["ETag"]
        except urllib.error.HTTPError as exc:
            got, body, etag = exc.code, exc.read(), exc.headers["ETag"]
    assert (got, etag) == (status, '"v7"')
    assert body == (b"" if status == 304 else b"<rss/>")
