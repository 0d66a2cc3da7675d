"""Network helpers for tests that start servers on loopback."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999): a port picked there may be taken as the
# source port of some client's connection before the server that was to use it binds.
_PORTS = range(20000, 32000)
# Handed out already: a port picked twice before either server binds it would clash.
_given: set[int] = set()


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(following: int = 0) -> int:
    """A TCP port nothing listens on right now, with the `following` ports after it free
    too (a broker's controller takes port + 1)."""
    while True:
        port = random.choice(_PORTS)
        wanted = range(port, port + following + 1)
        if _given.isdisjoint(wanted) and all(_free(candidate) for candidate in wanted):
            _given.update(wanted)
            return port
