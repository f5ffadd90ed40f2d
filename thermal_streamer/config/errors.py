"""The one error of the config package: a value, key, section or file that is not allowed.

Error tree::

    ConfigError
"""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """A configuration value is missing, unknown or out of range.

    Attributes:
        path: the config file, or ``"command line"``.
        section: the INI section (``None`` for a file-level problem).
        key: the key (``None`` for a section- or file-level problem).
        value: the offending value as written, if any.
        allowed: what would have been accepted.
    """

    def __init__(self, path: Path | str, section: str | None = None, key: str | None = None,
                 value: str | None = None, allowed: str = ""):
        self.path, self.section, self.key = str(path), section, key
        self.value, self.allowed = value, allowed
        where = self.path
        if section is not None:
            where += f" [{section}]"
        if key is not None:
            where += f" {key}"
        what = f" = {value!r}" if value is not None else ""
        super().__init__(f"{where}{what}: {allowed}")
