#!/usr/bin/env python3
"""Hostile HTTP clients against one payorch HTTP port, every loop bounded.

Run by bench/http_attack.sh (which starts the servers); figures in docs/reliability.md,
"HTTP attacks". For one target port it measures, with the process's RSS after each step:

  silent      N connections that send nothing, held HOLD seconds
  slowloris   N connections that send a request line, then one header byte a second
  chunked     a chunked body of up to 100 MB (64 KiB chunks) until the server stops reading
  headers     1,000 header fields in one request (29 KB)
  headers-1m  1,000,000 header fields streamed (stops when the server stops reading)
  gzip        a gzip body (99 KB that unpack to 100 MB) with Content-Encoding: gzip

With --under-load it only holds N/2 silent and N/2 slowloris connections for HOLD seconds
(reopening those the server closes) and probes, while the caller runs a load (wrk).

During `silent` and `slowloris` it probes the port's own cheap route (PROBE) and
/health/ready on the metrics port every 100 ms. Prints one line per step.
"""
import argparse
import gzip
import os
import socket
import statistics
import threading
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return -1


def request_once(port, raw, timeout=5.0):
    """Sends raw bytes; returns (status, seconds) of the answer, status 0 if none."""
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(raw)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            status = int(data.split(b" ")[1]) if data.startswith(b"HTTP/") else 0
    except (OSError, ValueError, IndexError):
        status = 0
    return status, time.monotonic() - start


def probe_loop(port, raw, stop, out):
    while not stop.is_set():
        out.append(request_once(port, raw))
        time.sleep(0.1)


def summary(samples):
    if not samples:
        return "no probes"
    times = sorted(t for _, t in samples)
    statuses = {}
    for s, _ in samples:
        statuses[s] = statuses.get(s, 0) + 1
    return (f"{len(samples)} probes {dict(sorted(statuses.items()))}, "
            f"median {statistics.median(times) * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")


def hold(port, n, slow, seconds, stop_at):
    """Opens n connections (slowloris ones trickle a header byte a second) until stop_at;
    reopens any the server closes. Returns the number of reopenings."""
    socks = [None] * n
    reopened = 0

    def open_one():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.setblocking(False)
            if slow:
                s.send(b"POST /v1/payments HTTP/1.1\r\nHost: a\r\nX-a: ")
            return s
        except OSError:
            return None

    for i in range(n):
        socks[i] = open_one()
    while time.monotonic() < stop_at:
        for i in range(n):
            s = socks[i]
            try:
                if s is None:
                    raise OSError
                if slow:
                    s.send(b"a")
                else:
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        raise OSError  # closed by the server
            except BlockingIOError:
                pass
            except OSError:
                if s is not None:
                    s.close()
                socks[i] = open_one()
                reopened += 1
        time.sleep(1.0)
    for s in socks:
        if s is not None:
            s.close()
    return reopened


def stream(port, head, body_chunks, limit_bytes):
    """Sends head then chunks until limit or the server stops reading; returns
    (status, bytes sent, seconds)."""
    start = time.monotonic()
    sent = 0
    status = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(head)
            s.settimeout(5)
            for chunk in body_chunks:
                if sent >= limit_bytes:
                    break
                try:
                    s.sendall(chunk)
                except OSError:
                    break
                sent += len(chunk)
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            data = b""
            try:
                while b"\r\n" not in data:
                    c = s.recv(4096)
                    if not c:
                        break
                    data += c
            except OSError:
                pass
            if data.startswith(b"HTTP/"):
                status = int(data.split(b" ")[1])
    except OSError:
        pass
    return status, sent, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--metrics", type=int, default=0, help="port of /health/ready (0: none)")
    ap.add_argument("--probe", default="GET /health/ready",
                    help="method and path of the target's cheap route")
    ap.add_argument("--header", action="append", default=[], help="extra probe header")
    ap.add_argument("--connections", type=int, default=500)
    ap.add_argument("--hold", type=float, default=8.0)
    ap.add_argument("--path", default="/v1/payments", help="path the body attacks POST to")
    ap.add_argument("--under-load", action="store_true",
                    help="hold N/2 silent + N/2 slowloris connections and probe, nothing else")
    a = ap.parse_args()
    method, path = a.probe.split(" ", 1)
    extra = "".join(f"{h}\r\n" for h in a.header)
    probe = f"{method} {path} HTTP/1.1\r\nHost: a\r\n{extra}Connection: close\r\n\r\n".encode()
    health = b"GET /health/ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    def probed(holds, settle_s):
        """Runs the holders (hold() argument tuples), probing while they hold; returns
        (probe samples, metrics /health/ready samples, total reopenings)."""
        stop = threading.Event()
        own, ready, reopened = [], [], []
        probes = [threading.Thread(target=probe_loop, args=(a.port, probe, stop, own))]
        if a.metrics:
            probes.append(threading.Thread(target=probe_loop,
                                           args=(a.metrics, health, stop, ready)))
        holders = [threading.Thread(target=lambda h=h: reopened.append(hold(*h)))
                   for h in holds]
        for t in holders:
            t.start()
        time.sleep(settle_s)  # the connections are open
        for t in probes:
            t.start()
        for t in holders:
            t.join()
        stop.set()
        for t in probes:
            t.join()
        line = f"probe {summary(own)}"
        if a.metrics:
            line += f"; metrics /health/ready {summary(ready)}"
        return line, sum(reopened)

    if a.under_load:
        until = time.monotonic() + a.hold
        half = a.connections // 2
        line, _ = probed([(a.port, half, slow, a.hold, until) for slow in (False, True)], 0)
        print(f"under load, {half} silent + {half} slowloris: {line}; "
              f"RSS {rss_mb(a.pid):.0f} MB")
        return
    print(f"start: RSS {rss_mb(a.pid):.0f} MB; probe {a.probe}: "
          f"{summary([request_once(a.port, probe) for _ in range(20)])}")

    for name, slow in (("silent", False), ("slowloris", True)):
        until = time.monotonic() + a.hold
        line, reopened = probed([(a.port, a.connections, slow, a.hold, until)], 1.0)
        print(f"{name} x{a.connections} for {a.hold:.0f} s: {line}; reopened {reopened}; "
              f"RSS {rss_mb(a.pid):.0f} MB")

    head = (f"POST {a.path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/json\r\n\r\n").encode()
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    status, sent, secs = stream(a.port, head, iter(lambda: chunk, None), 100 << 20)
    print(f"chunked 100 MB: {status}, {sent / 1e6:.1f} MB sent, {secs * 1000:.0f} ms; "
          f"RSS {rss_mb(a.pid):.0f} MB")

    many = "".join(f"X-h{i}: v\r\n" for i in range(1000))
    status, secs = request_once(a.port, f"GET {path} HTTP/1.1\r\nHost: a\r\n{many}\r\n".encode())
    print(f"headers 1,000 ({len(many) // 1000} KB): {status}, {secs * 1000:.0f} ms; "
          f"RSS {rss_mb(a.pid):.0f} MB")

    def header_lines():
        i = 0
        while True:
            yield "".join(f"X-h{j}: v\r\n" for j in range(i, i + 1000)).encode()
            i += 1000

    status, sent, secs = stream(a.port, b"GET / HTTP/1.1\r\nHost: a\r\n", header_lines(), 10 << 20)
    print(f"headers 1,000,000 streamed: {status}, {sent / 1e6:.2f} MB sent, {secs * 1000:.0f} ms;"
          f" RSS {rss_mb(a.pid):.0f} MB")

    bomb = gzip.compress(b" " * (100 << 20), 9)
    head = (f"POST {a.path} HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(bomb)}\r\n\r\n").encode()
    status, sent, secs = stream(a.port, head, iter([bomb]), len(bomb))
    print(f"gzip {len(bomb) // 1000} KB -> 100 MB: {status}, {secs * 1000:.0f} ms; "
          f"RSS {rss_mb(a.pid):.0f} MB")
    print(f"end: probe {summary([request_once(a.port, probe) for _ in range(20)])}")


if __name__ == "__main__":
    main()
