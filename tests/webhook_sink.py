"""A webhook endpoint for the tests: a real HTTP server on 127.0.0.1 that records POSTs."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookSink:
    """Records every POST (path, content type, JSON body) and answers with the next of
    ``statuses`` (the last one repeats). With ``hang=True`` it reads the request and
    never answers (until closed). With ``answer`` it calls ``answer(wfile, closing)``
    to write the whole answer itself (status line, headers, body), e.g. an endless or
    trickling body; ``closing`` is set when the sink closes. Use as a context manager:
    the server thread is joined on exit.

    Attributes:
        url: where to post, ``http://127.0.0.1:PORT/hook``.
        posts: [(path, content_type, body)] in arrival order.
    """

    def __init__(self, statuses: tuple[int, ...] = (200,), hang: bool = False,
                 answer: Callable[[Any, threading.Event], None] | None = None):
        self.posts: list[tuple[str, str, dict]] = []
        self._statuses, self._hang, self._answer = list(statuses), hang, answer
        self._cond = threading.Condition()
        self._closing = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with sink._cond:
                    sink.posts.append((self.path, self.headers["Content-Type"], body))
                    status = sink._statuses.pop(0) if len(sink._statuses) > 1 \
                        else sink._statuses[0]
                    sink._cond.notify_all()
                if sink._hang:
                    sink._closing.wait(30)
                    return
                if sink._answer is not None:
                    self.close_connection = True
                    with contextlib.suppress(OSError):  # the sender closed: it read enough
                        sink._answer(self.wfile, sink._closing)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="webhook-sink")

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[tuple[str, str, dict]]:
        """Wait (bounded) until ``count`` POSTs arrived; returns all so far."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.posts) >= count, timeout_s)
            return list(self.posts)


def refused_url() -> str:
    """An http:// URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
