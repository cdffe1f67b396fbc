"""Mutual-TLS `grpc.aio` channels for a process that calls its peers from an asyncio event loop.

An asyncio channel belongs to the loop it was opened on (gRPC refuses it elsewhere), so channels are kept
per (loop, address, expected party) and must be closed on their own loop (`aclose`, at shutdown).
"""

from __future__ import annotations

import asyncio
import threading

import grpc

from federation.grpc_channel import secure_channel_settings
from federation.pki import Identity, NodeTls


class AioPeerChannels:
    """One open `grpc.aio` channel per event loop and (address, expected party)."""

    def __init__(self, tls: NodeTls) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._open: dict[tuple[asyncio.AbstractEventLoop, str, Identity], grpc.aio.Channel] = {}

    def get(self, address: str, expected: Identity) -> grpc.aio.Channel:
        """The running loop's channel to `expected` at `address` (opened on first use)."""
        key = (asyncio.get_running_loop(), address, expected)
        with self._lock:
            channel = self._open.get(key)
            if channel is None:
                credentials, options = secure_channel_settings(self.tls, expected)
                channel = self._open[key] = grpc.aio.secure_channel(address, credentials, options=options)
            return channel

    async def aclose(self) -> None:
        """Close the running loop's channels (calls in flight end CANCELLED)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            mine = [key for key in self._open if key[0] is loop]
            channels = [self._open.pop(key) for key in mine]
        for channel in channels:
            await channel.close()

    def forget(self) -> None:
        """Drop every channel without closing it: for loops that already stopped (their channels died with
        them)."""
        with self._lock:
            self._open.clear()
