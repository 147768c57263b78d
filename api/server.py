"""Runs the API under uvicorn inside an event loop the caller owns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def wait_started(self) -> list[tuple[str, int]]:
        """Wait until the sockets are bound and return their addresses."""
        while not self.started:
            if self.should_exit:
                return []
            await asyncio.sleep(0.02)
        return [sock.getsockname()[:2] for server in self.servers for sock in server.sockets]


def build_server(app: FastAPI, *, host: str, port: int) -> EmbeddedServer:
    """A server for ``app`` on ``host:port`` (port 0: any free port)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return EmbeddedServer(config)
