"""Argument parsing for ``%mlops`` subcommands: argparse that raises instead of exiting."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from ..errors import InvalidInput


class MagicArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser for one ``%mlops`` subcommand.

    Errors become :class:`InvalidInput` with the usage line, so the magic prints one line.
    """

    def __init__(self, subcommand: str, **kwargs: Any) -> None:
        super().__init__(prog=f"%mlops {subcommand}", add_help=False, exit_on_error=False, **kwargs)

    def _usage_line(self) -> str:
        # argparse wraps long usages over several lines; the magic promises one.
        return " ".join(self.format_usage().removeprefix("usage: ").split())

    def error(self, message: str) -> NoReturn:
        raise InvalidInput(f"{message}. Usage: {self._usage_line()}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise InvalidInput(" ".join((message or "").split()) or f"Usage: {self._usage_line()}")

    def parse(self, args: list[str]) -> argparse.Namespace:
        try:
            return self.parse_args(args)
        except argparse.ArgumentError as exc:
            self.error(str(exc))


def split(line: str) -> list[str]:
    """Split a magic line like a shell would; an unbalanced quote is a usage error."""
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise InvalidInput(f"Cannot parse {line!r}: {exc}. Check the quotes.") from None


def parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    """``["lr=0.1", "depth=5", "kind=rf"]`` -> ``{"lr": 0.1, "depth": 5, "kind": "rf"}``."""
    import ast

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not key.replace(".", "_").replace("-", "_").isidentifier():
            raise InvalidInput(
                f"Expected {what} as key=value, got {item!r}. Example: lr=0.1 depth=5"
            )
        try:
            value: Any = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out[key] = value
    return out
