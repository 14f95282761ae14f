"""Helpers shared by the benchmark scripts: ports on 127.0.0.1, a process's resident memory."""

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


def cpu_seconds(pid):
    """User + system CPU seconds a process has used (from /proc)."""
    import os
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    """Resident memory of a process in MiB (from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def http_call(port, method, path, body=None, timeout=10):
    """One HTTP request to an agent on 127.0.0.1; the raw body."""
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def until(what, f, deadline=60, step=0.05):
    """Poll `f` until it returns something true (exceptions count as not yet); its value."""
    import time
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            v = f()
        except Exception:
            v = None
        if v:
            return v
        time.sleep(step)
    raise TimeoutError(what)


def single_server(bin_path, work, http, dns_port=-1, serf=None, log_name="agent.log"):
    """A bootstrapped disco server on loopback (data in `work`), in its own session so
    kill_group stops it; returns the process once it leads."""
    import json
    import os
    import subprocess
    serf = serf or free_port()
    proc = subprocess.Popen(
        [bin_path, "agent", "-server", "-bootstrap", "-node", "bench", "-bind", "127.0.0.1",
         "-client", "127.0.0.1", "-http-port", str(http), "-dns-port", str(dns_port),
         "-serf-lan-port", str(serf), "-serf-wan-port", "-1", "-server-port", str(free_port()),
         "-data-dir", os.path.join(work, "data"), "-log-level", "warn"],
        stdout=open(os.path.join(work, log_name), "wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        until("a leader", lambda: json.loads(http_call(http, "GET", "/v1/status/leader")), deadline=30)
    except TimeoutError:
        kill_group(proc)
        raise
    return proc


def report(path, text):
    """Write a benchmark's markdown to `path` (directories made as needed) and print it."""
    import os
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print(text)


def kill_group(proc):
    """SIGKILL a process started with start_new_session=True, with all it started; reap it."""
    import os
    import signal
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def rss_kb(pid):
    """VmRSS of a process in KiB (from /proc/<pid>/status); None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
