"""What a route answers, as values: a whole reply, a file download or an endless stream.

The request handler (:mod:`thermal_streamer.outputs.http.server`) turns each into bytes
on the connection; the routes never touch a socket.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Reply:
    """A whole answer with a body (sent with ``Content-Length``).

    Attributes:
        status: the status code.
        content_type: the ``Content-Type`` value.
        body: the body (not sent for HEAD).
        cache: the ``Cache-Control`` value.
    """

    status: HTTPStatus
    content_type: str
    body: bytes
    cache: str = "no-store"


@dataclass(frozen=True)
class Download:
    """A file sent as an attachment, whole or the one byte range asked for, in chunks.

    Attributes:
        path: the file (404 if it cannot be opened by the time it is sent).
    """

    path: Path


@dataclass(frozen=True)
class Stream:
    """An answer without an end: the headers, then ``write`` until the client goes.

    Attributes:
        content_type: the ``Content-Type`` value.
        send_timeout_s: a write that cannot go on for this long ends the stream, s.
        write: writes the body to the connection, ``(wfile, "host:port" of the peer)``;
            returns when the client went or the server stops (it handles OSError).
    """

    content_type: str
    send_timeout_s: float
    write: Callable[[io.BufferedIOBase, str], None]


Answer = Reply | Download | Stream


def text_reply(status: HTTPStatus, text: str) -> Reply:
    """A line of plain text (a newline is added)."""
    return Reply(status, "text/plain; charset=utf-8", f"{text}\n".encode())


def json_reply(value: Any, status: HTTPStatus = HTTPStatus.OK, cache: str = "no-store") -> Reply:
    """A JSON value (``json.dumps``: any JSON-serialisable value)."""
    return Reply(status, "application/json", json.dumps(value).encode(), cache)


NOT_FOUND = text_reply(HTTPStatus.NOT_FOUND, "404 not found")
