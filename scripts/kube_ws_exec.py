#!/usr/bin/env python3
"""A raw websocket exec client (stdlib only): the yardstick for herodo's pod_exec when kubectl
is absent (scripts/bench_kube.sh), and a probe of the fake API server's exec by hand.

Usage: kube_ws_exec.py SERVER TOKEN NAMESPACE POD [-n N] -- ARGV...
Runs ARGV N times (default 1) in a fresh connection each, prints the output of the last run,
then `runs N median_ms M` on stderr. TLS is not verified (it talks to a local test server).
"""

import base64
import json
import os
import socket
import ssl
import statistics
import sys
import time
from urllib.parse import quote, urlparse


def exec_once(server, token, ns, pod, argv):
    u = urlparse(server)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((u.hostname, u.port or 443))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname=u.hostname)
    q = "&".join(f"command={quote(a, safe='')}" for a in argv) + "&stdout=true&stderr=true"
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /api/v1/namespaces/{ns}/pods/{pod}/exec?{q} HTTP/1.1\r\n"
           f"Host: {u.netloc}\r\nAuthorization: Bearer {token}\r\nConnection: Upgrade\r\n"
           f"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
           "Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n\r\n")
    s.sendall(req.encode())
    f = s.makefile("rb")
    status = f.readline()
    if b" 101 " not in status:
        raise SystemExit(f"no upgrade: {status!r}")
    while f.readline() not in (b"\r\n", b""):
        pass
    out = {1: b"", 2: b""}
    result = None
    while True:
        h = f.read(2)
        if len(h) < 2:
            break
        op, n = h[0] & 0x0F, h[1] & 0x7F
        if n == 126:
            n = int.from_bytes(f.read(2), "big")
        elif n == 127:
            n = int.from_bytes(f.read(8), "big")
        payload = f.read(n)
        if op == 8:
            mask = os.urandom(4)
            body = (1000).to_bytes(2, "big")
            s.sendall(bytes([0x88, 0x80 | len(body)]) + mask +
                      bytes(b ^ mask[i % 4] for i, b in enumerate(body)))
            break
        if payload and payload[0] in out:
            out[payload[0]] += payload[1:]
        elif payload and payload[0] == 3 and len(payload) > 1:
            result = json.loads(payload[1:])
    s.close()
    return out[1], out[2], result


def main():
    args = sys.argv[1:]
    if "--" not in args or len(args) < 6:
        raise SystemExit(__doc__)
    cut = args.index("--")
    head, argv = args[:cut], args[cut + 1:]
    n = 1
    if "-n" in head:
        i = head.index("-n")
        n = int(head[i + 1])
        del head[i:i + 2]
    server, token, ns, pod = head
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        o, e, r = exec_once(server, token, ns, pod, argv)
        times.append((time.perf_counter() - t0) * 1000)
    sys.stdout.buffer.write(o)
    sys.stderr.buffer.write(e)
    print(f"status {json.dumps(r)}", file=sys.stderr)
    print(f"runs {n} median_ms {statistics.median(times):.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
