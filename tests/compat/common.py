"""What the compatibility suites' drivers share: ports for their agents on 127.0.0.1, and
one HTTP call that never raises.

Ports are picked below the kernel's ephemeral range (32768 and up), as the Rust tests' `free_port`
does: a port the kernel hands out for `bind(0)` is also what it gives every process's
outgoing connections, so one could be taken between the check and the agent's bind. A
port is never handed out twice by one process.
"""

import os
import socket
import urllib.error
import urllib.request

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


def req(port, method, path, body=None, timeout=5):
    """(status, body) of one call to 127.0.0.1:`port`; status 0 when there was no answer."""
    r = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception as e:  # connection refused, reset, timeout
        return 0, str(e).encode()
