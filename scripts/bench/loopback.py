"""Helpers shared by the benchmark scripts: ports on 127.0.0.1."""

import socket


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 (disco's serf port needs both)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
