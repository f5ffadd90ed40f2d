"""thermal_streamer.outputs.http.routes without a socket: the lookup (exact, then prefixes in
order), mjpg-streamer's URLs, and the table the server builds."""

from __future__ import annotations

import threading
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.thermal_streamer.parts import Parts
from thermal_streamer.config.loader import load_config
from thermal_streamer.outputs.http.answers import NOT_FOUND, Download, Reply, json_reply
from thermal_streamer.outputs.http.routes import (
    Request,
    Routes,
    route_path,
    route_prefix,
    server_routes,
)
from thermal_streamer.outputs.reports import Status
from thermal_streamer.sources.factory import make_source


def request(path: str, query: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None) -> Request:
    """A Request as the handler makes it."""
    message = Message()
    for name, value in (headers or {}).items():
        message[name] = value
    return Request(path, query or {}, message)


@pytest.mark.parametrize(("url", "path"), [
    ("/", "/"),
    ("/?action=stream", "/stream.mjpg"),
    ("/?action=snapshot&x=1", "/snapshot.jpg"),
    ("/?action=other", "/?action=unknown"),
    ("/index.html?action=stream", "/index.html"),  # only / speaks mjpg-streamer
    ("/recordings/a%20b", "/recordings/a%20b"),  # unquoted by the prefix's handler
])
def test_route_path_maps_mjpg_streamer_actions(url, path):
    """``/?action=stream`` and ``snapshot`` are the paths they mean; an unknown action none."""
    assert route_path(urlsplit(url)) == path


def test_exact_paths_come_first_then_prefixes_in_order():
    """An exact path wins; a prefix must be followed by more; the first matching prefix
    gets the rest unquoted; anything else is 404."""
    exact = {"/a/b": lambda _: json_reply("exact")}
    prefixes = {"/a/": lambda rest: json_reply(f"a:{rest}"),
                "/a/b/": lambda rest: json_reply(f"ab:{rest}")}
    routes = Routes(exact, prefixes)
    assert routes.answer(request("/a/b")) == json_reply("exact")
    assert routes.answer(request("/a/b/c%20d")) == json_reply("a:b/c d")
    assert routes.answer(request("/a/")) is NOT_FOUND
    assert routes.answer(request("/elsewhere")) is NOT_FOUND
    assert route_prefix("/a/x", prefixes) == "/a/" and route_prefix("/a", prefixes) is None


def server_table(json_routes: dict | None = None, file_routes: dict | None = None,
                 data_routes: dict | None = None) -> Routes:
    """The table an HttpServer builds, for one page asset and the components' routes."""
    parts = Parts()
    status = Status(parts.hub, parts.state, make_source(load_config(["--source", "simulated"])),
                    ws_port=9876)
    return server_routes({"/": ("text/html; charset=utf-8", b"<!doctype html>")}, status,
                         parts.hub, parts.renderer.snapshot, 2.0, threading.Event(),
                         json_routes or {}, file_routes or {}, data_routes or {})


def test_the_servers_table_answers_values():
    """Assets with no-cache, a colormap with max-age, 404 texts, a component's download and
    JSON value; the proxy header empties ws_port."""
    routes = server_table(json_routes={"/raw": lambda: None},
                          file_routes={"/recordings/": lambda name: Path("/tmp") / name})
    assert routes.answer(request("/")) == Reply(HTTPStatus.OK, "text/html; charset=utf-8",
                                                b"<!doctype html>", "no-cache")
    assert routes.answer(request("/colormap.json", {"name": ["nope"]})) == Reply(
        HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"unknown colormap 'nope'\n")
    colormap = routes.answer(request("/colormap.json", {"name": ["gray"]}))
    assert isinstance(colormap, Reply) and colormap.cache == "max-age=3600"
    assert routes.answer(request("/raw")) == Reply(
        HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not available here\n")
    assert routes.answer(request("/recordings/a b")) == Download(Path("/tmp/a b"))
    assert routes.answer(request("/snapshot.jpg")) == Reply(
        HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", b"no frame yet\n")
    proxied = routes.answer(request("/config.json", headers={"X-Forwarded-Host": "cam"}))
    assert isinstance(proxied, Reply) and b'"ws_port": null' in proxied.body


def test_a_path_served_twice_is_refused():
    """A component's path that the server already serves: ValueError naming it."""
    with pytest.raises(ValueError, match=r"HTTP paths served twice: \['/healthz'\]"):
        server_table(json_routes={"/healthz": dict})
    with pytest.raises(ValueError, match=r"HTTP paths served twice: \['/x/'\]"):
        server_table(file_routes={"/x/": lambda _: None}, data_routes={"/x/": lambda _: None})
