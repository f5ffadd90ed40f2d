"""The HTTP paths as one table: an exact path or a path prefix -> the handler that answers it.

:func:`server_routes` builds the table from what the app hands the server: the page's
assets, the status payloads, the snapshot, and the components' ``json_routes``,
``file_routes`` and ``data_routes``; :meth:`Routes.answer` finds the handler by lookup.
Exact paths come first, then the prefixes in the order given (file routes before data
routes); anything else is 404, whatever its encoding. A handler returns an
:class:`~thermal_streamer.outputs.http.answers.Answer` and never touches the connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote

from thermal_streamer.control import colormaps
from thermal_streamer.core.frames import EncodedFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.outputs import metrics
from thermal_streamer.outputs.http.answers import (
    NOT_FOUND,
    Answer,
    Download,
    Reply,
    json_reply,
    text_reply,
)
from thermal_streamer.outputs.http.mjpeg import mjpeg_stream
from thermal_streamer.outputs.http.snapshots import RAW_SNAPSHOTS, jpeg_snapshot, raw_snapshot
from thermal_streamer.outputs.reports import Status

MJPG_STREAMER_ACTIONS = {"stream": "/stream.mjpg", "snapshot": "/snapshot.jpg"}


@dataclass(frozen=True)
class Request:
    """What a handler may read of a request.

    Attributes:
        path: the URL path (after :func:`route_path`).
        query: the query string, parsed (``parse_qs``: name -> values).
        headers: the request headers.
        anonymous: no login came with it, on a path open to all while a password file
            is set (``/healthz``): the answer tells only what anyone may know.
    """

    path: str
    query: Mapping[str, list[str]]
    headers: Message
    anonymous: bool = False


Handler = Callable[[Request], Answer]  # an exact path's handler
PrefixHandler = Callable[[str], Answer]  # a prefix's: takes the rest of the path, unquoted


def route_path(url: SplitResult) -> str:
    """The path a URL asks for: its own, or for mjpg-streamer's ``/?action=stream`` and
    ``/?action=snapshot`` (as OctoPrint and dashboards expect) the path they mean (an
    unknown action: a path that does not exist)."""
    if url.path != "/":
        return url.path
    action = parse_qs(url.query).get("action", [None])[0]
    return url.path if action is None else MJPG_STREAMER_ACTIONS.get(action, "/?action=unknown")


def route_prefix(path: str, routes: Mapping[str, Any]) -> str | None:
    """The first prefix of ``routes`` that ``path`` starts with and goes beyond, or None."""
    for prefix in routes:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix
    return None


class Routes:
    """The table: exact paths, then prefixes. Immutable once built; thread-safe.

    Args:
        exact: path -> handler.
        prefixes: prefix (ending in ``/``) -> handler of the rest, tried in this order.
    """

    def __init__(self, exact: Mapping[str, Handler], prefixes: Mapping[str, PrefixHandler]):
        self.exact, self.prefixes = dict(exact), dict(prefixes)

    def answer(self, request: Request) -> Answer:
        """The answer of the handler of ``request.path``, or 404 if none serves it.

        May block as long as the handler does (a component's callable, an encoder).
        """
        handler = self.exact.get(request.path)
        if handler is not None:
            return handler(request)
        prefix = route_prefix(request.path, self.prefixes)
        if prefix is not None:
            return self.prefixes[prefix](unquote(request.path[len(prefix):]))
        return NOT_FOUND


def joined(*tables: Mapping[str, Any]) -> dict[str, Any]:
    """The tables as one, in order.

    Raises:
        ValueError: a path is in two of them.
    """
    table: dict[str, Any] = {}
    for part in tables:
        twice = table.keys() & part.keys()
        if twice:
            raise ValueError(f"HTTP paths served twice: {sorted(twice)}")
        table.update(part)
    return table


def server_routes(assets: Mapping[str, tuple[str, bytes]], status: Status, hub: Hub,
                  snapshot: Callable[[], EncodedFrame | None], send_timeout_s: float,
                  stopping: threading.Event,
                  json_routes: Mapping[str, Callable[[], Any]],
                  file_routes: Mapping[str, Callable[[str], Path | None]],
                  data_routes: Mapping[str, Callable[[str], tuple[str, bytes] | None]]) -> Routes:
    """Every path the HTTP server answers (the arguments are HttpServer's).

    Raises:
        ValueError: a path is served twice.
    """
    mjpeg = mjpeg_stream(hub, send_timeout_s, stopping)
    own: dict[str, Handler] = {
        "/config.json": lambda request: page_config(status, request),
        "/healthz": lambda request: healthz(status, request.anonymous),
        "/metrics": lambda _: Reply(HTTPStatus.OK, metrics.CONTENT_TYPE, metrics.render_metrics(
            status.health(), hub.totals()).encode()),
        "/snapshot.jpg": lambda _: jpeg_snapshot(snapshot()),
        **{path: raw_route(hub, content_type, encode)
           for path, (content_type, encode) in RAW_SNAPSHOTS.items()},
        "/stream.mjpg": lambda _: mjpeg,
        "/colormaps.json": lambda _: json_reply({"names": colormaps.names()}),
        "/colormap.json": lambda request: colormap(request.query.get("name", [""])[0]),
    }
    pages = {path: fixed(Reply(HTTPStatus.OK, content_type, body, cache="no-cache"))
             for path, (content_type, body) in assets.items()}
    components = {path: json_route(value) for path, value in json_routes.items()}
    return Routes(joined(pages, own, components), joined(
        {prefix: file_route(find) for prefix, find in file_routes.items()},
        {prefix: data_route(compute) for prefix, compute in data_routes.items()}))


def fixed(reply: Reply) -> Handler:
    """A handler that always gives ``reply`` (an asset)."""
    return lambda _: reply


def page_config(status: Status, request: Request) -> Reply:
    """/config.json; behind a reverse proxy (``X-Forwarded-Host``: nginx, Caddy) with no
    ``ws_port``, so that the page opens its WebSocket through the proxy too."""
    config = status.page_config()
    if "X-Forwarded-Host" in request.headers:
        config["ws_port"] = None
    return json_reply(config)


def healthz(status: Status, anonymous: bool = False) -> Reply:
    """/healthz: 200, or 503 while the frames are stale; ``anonymous`` (no login while a
    password file is set): only ``{"status": ...}``, not who watches, the temperatures,
    the alarms or the source."""
    health = status.health()
    stale = health["status"] == "stale"
    return json_reply({"status": health["status"]} if anonymous else health,
                      HTTPStatus.SERVICE_UNAVAILABLE if stale else HTTPStatus.OK)


def raw_route(hub: Hub, content_type: str, encode: Callable[[Any], bytes]) -> Handler:
    """A raw snapshot's handler: the newest source frame through ``encode``."""
    return lambda _: raw_snapshot(hub.raw.latest()[1], content_type, encode)


def colormap(name: str) -> Reply:
    """A colormap's 256 RGB entries as 1536 hex digits, for the page's colour bar."""
    if not colormaps.is_known(name):
        return text_reply(HTTPStatus.NOT_FOUND, f"unknown colormap {name!r}")
    return json_reply({"name": name, "lut": colormaps.palette_bytes(name).hex()},
                      cache="max-age=3600")


def json_route(value: Callable[[], Any]) -> Handler:
    """A component's JSON path: its value now, or 404 when it has none (None)."""
    def answer(_: Request) -> Reply:
        found = value()
        return text_reply(HTTPStatus.NOT_FOUND, "not available here") if found is None \
            else json_reply(found)
    return answer


def file_route(find: Callable[[str], Path | None]) -> PrefixHandler:
    """A component's download folder: the file it names for the rest of the path, or 404."""
    def answer(name: str) -> Answer:
        found = find(name)
        return NOT_FOUND if found is None else Download(found)
    return answer


def data_route(compute: Callable[[str], tuple[str, bytes] | None]) -> PrefixHandler:
    """A component's computed answers: (content type, body) for the rest of the path, or 404."""
    def answer(rest: str) -> Answer:
        found = compute(rest)
        return NOT_FOUND if found is None else Reply(HTTPStatus.OK, *found)
    return answer
