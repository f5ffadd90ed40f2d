"""The daemon's command line: parse it, load the config, run the app, map errors to exit codes.

``thermal-streamer`` (the console script) and ``websocket_http_server.py`` both call
:func:`main`. Exit status: 0 after a clean shutdown (or ``--print-config``), 1 if a port
cannot be bound or the source fails, 2 for a bad configuration.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from thermal_streamer.app import run
from thermal_streamer.config.errors import ConfigError
from thermal_streamer.config.loader import DEFAULT_CONFIG_PATH, load_config
from thermal_streamer.core.listening import BindError
from thermal_streamer.security.passwords import PasswordFileError, add_user

log = logging.getLogger(__name__)


def configure_logging(level: str) -> None:
    """Log to stderr with timestamps, thread names and levels (``level``: [Logging] Log_Level)."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s",
    )
    # our own lines say who connected and how many clients there are
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def add_user_command(argv: list[str]) -> int:
    """``--add-user NAME --password-file PATH``: add a viewer or replace its password.

    The password comes from standard input (asked twice on a terminal, else its first
    line), never from the command line, where other users could see it.
    """
    parser = argparse.ArgumentParser(prog=f"{Path(sys.argv[0]).name} --add-user")
    parser.add_argument("--add-user", metavar="NAME", required=True)
    parser.add_argument("--password-file", metavar="PATH", required=True,
                        help="the file [Security] Password_File names")
    args = parser.parse_args(argv)
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.add_user}: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ; nothing changed", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        new = add_user(args.password_file, args.add_user, password)
    except PasswordFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'added' if new else 'changed the password of'} {args.add_user} in "
          f"{args.password_file}", file=sys.stderr)
    return 0


def print_config() -> int:
    """``--print-config``: write the default config file (``-c``'s default) to stdout.

    An installed daemon's is the ``server.conf`` shipped in the package, so that
    ``thermal-streamer --print-config > server.conf`` starts a file of one's own.
    """
    try:
        sys.stdout.write(DEFAULT_CONFIG_PATH.read_text())
    except OSError as exc:  # a checkout whose ./server.conf was deleted
        print(f"error: cannot read the default config: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the daemon (or ``--add-user``) with ``argv`` (default: the command line).

    Returns:
        The exit status.
    """
    argv = sys.argv[1:] if argv is None else argv
    if "--add-user" in argv:
        return add_user_command(argv)
    if "--print-config" in argv:
        return print_config()
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    for warning in config.warnings:
        log.warning("%s", warning)
    try:
        return run(config)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2
    except BindError as exc:
        log.error("%s", exc)
        return 1
