"""Ports for the compatibility suites' agents on 127.0.0.1.

Picked below the kernel's ephemeral range (32768 and up), as the Rust tests' `free_port`
does: a port the kernel hands out for `bind(0)` is also what it gives every process's
outgoing connections, so one could be taken between the check and the agent's bind. A
port is never handed out twice by one process.
"""

import os
import socket

_used = set()
_next = [(os.getpid() % 2000) * 10]


def free_port():
    """A port free for both TCP and UDP (disco's serf port needs both)."""
    for _ in range(20000):
        _next[0] += 1
        p = 10000 + (_next[0] * 7919) % 22000
        if p in _used:
            continue
        try:
            with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind(("127.0.0.1", p))
                u.bind(("127.0.0.1", p))
        except OSError:
            continue
        _used.add(p)
        return p
    raise RuntimeError("no free port on 127.0.0.1")
