#!/usr/bin/env python3
"""Stream a thermal camera to browsers: HTTP viewer page plus WebSocket frames.

Usage: python websocket_http_server.py [-c server.conf] [--http-port N] ... (see --help)
       python websocket_http_server.py --add-user NAME --password-file PATH
Exit status: 0 after a clean shutdown, 1 if a port cannot be bound or the source
fails, 2 for a bad configuration.
"""

import argparse
import getpass
import logging
import sys

from server.app import run
from server.config import ConfigError, configure_logging, load_config
from server.listening import BindError
from server.passwords import PasswordFileError, add_user


def add_user_command(argv: list[str]) -> int:
    """``--add-user NAME --password-file PATH``: add a viewer or replace its password.

    The password comes from standard input (asked twice on a terminal, else its first
    line), never from the command line, where other users could see it.
    """
    parser = argparse.ArgumentParser(prog="websocket_http_server.py --add-user")
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--add-user" in argv:
        return add_user_command(argv)
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    for warning in config.warnings:
        logging.getLogger("server").warning("%s", warning)
    try:
        return run(config)
    except ConfigError as exc:
        logging.getLogger("server").error("configuration error: %s", exc)
        return 2
    except BindError as exc:
        logging.getLogger("server").error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
