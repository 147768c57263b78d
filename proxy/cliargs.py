"""Helpers the ``shadowlens`` subcommands share: ISO 8601 arguments, the acting user for the
audit log, a database session on a fresh Core, and the one error format."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings


def iso_time(text: str) -> datetime:
    """An argparse type: an ISO 8601 time, in UTC when it names no zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def actor() -> str:
    """Who the audit log names for a change made from the command line."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def core_session(settings: Settings, *, write: bool) -> Iterator[tuple[Core, Session]]:
    """A Core on ``settings`` and a session on its database (one transaction when writing)."""
    core = Core.open(settings)
    try:
        if write:
            with core.sessions.begin() as session:
                yield core, session
        else:
            with core.sessions() as session:
                yield core, session
    finally:
        core.close()


def fail(message: str, code: int = 1) -> int:
    """Print ``message`` as shadowlens' error and return the exit code."""
    print(f"shadowlens: {message}", file=sys.stderr)
    return code
