"""Networking helpers shared by the fixtures that start real servers (the app, the OpenID provider)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
