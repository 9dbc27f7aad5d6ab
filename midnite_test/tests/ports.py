"""A free TCP port for a server a test starts."""

import socket


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now (the system's choice, freed at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
