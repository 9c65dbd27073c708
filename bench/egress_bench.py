#!/usr/bin/env python3
"""What one outbound connection costs a task (docs/network.md), three ways, in one run:

  direct        the client on the host, straight to the server: the baseline
  proxy         inside `cordon run`, through the egress proxy (HTTP_PROXY, absolute-form GET)
  transparent   inside `cordon run`, with no proxy variable: a plain connect to the allowed
                address, relayed by the supervisor's transparent listener

Each request is a fresh TCP connection, "GET / HTTP/1.0" and the whole answer read to EOF (the
proxy serves one request per connection, so this is its real per-request cost); and, for raw TCP,
connect + 1-byte echo round trip + close. The client loop runs in the same Python either way and
times each request with perf_counter; rounds alternate the paths. Prints the median µs per request
of each path and the ratios to direct. Never pass/fail.

  bench/egress_bench.py [--rounds R] [--requests N]
"""
import argparse
import json
import os
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORDON = os.path.join(ROOT, "build", "bin", "cordon")

CLIENT = r"""
import json, socket, sys, time
mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def http():
    if mode == 'proxy':
        s = socket.create_connection(('127.0.0.1', 3128))
        s.sendall(b'GET http://%s:%d/ HTTP/1.1\r\nHost: x\r\n\r\n' % (host.encode(), port))
    else:
        s = socket.create_connection((host, port))
        s.sendall(b'GET / HTTP/1.0\r\n\r\n')
    while s.recv(65536): pass
    s.close()
def echo():
    s = socket.create_connection((host, port))
    s.sendall(b'x'); s.recv(1); s.close()
out = {}
for name, fn in (('http', http), ('tcp', echo)):
    if name == 'tcp' and mode == 'proxy':
        continue  # raw TCP needs a CONNECT handshake first: measured as http only
    if name == 'tcp': port = int(sys.argv[5])
    fn()  # warm-up
    t = []
    for _ in range(n):
        a = time.perf_counter(); fn(); t.append(time.perf_counter() - a)
    t.sort(); out[name] = t[len(t) // 2] * 1e6
print(json.dumps(out))
"""


class Http(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(65536)
        self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        d = self.request.recv(1)
        if d:
            self.request.sendall(d)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{' '.join(argv[:4])}...: no measurement (exit {out.returncode}): {out.stderr.strip()[-400:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    if not os.access(CORDON, os.X_OK):
        sys.exit(f"egress_bench: {CORDON} is missing; run scripts/build.sh first")
    http = Server(("127.0.0.1", 0), Http)
    echo = Server(("127.0.0.1", 0), Echo)
    for s in (http, echo):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    hp, ep = http.server_address[1], echo.server_address[1]
    with tempfile.TemporaryDirectory() as d:
        client = os.path.join(d, "client.py")
        with open(client, "w") as f:
            f.write(CLIENT)
        os.chmod(d, 0o755)
        os.chmod(client, 0o644)
        policy = os.path.join(d, "egress-bench.json")
        with open(policy, "w") as f:
            json.dump({"name": "egress-bench", "version": 1,
                       "outbound": {"mode": "allowlist", "allow": [f"127.0.0.1:{hp}", f"127.0.0.1:{ep}"]}}, f)
        os.chmod(policy, 0o644)
        code = open(client).read()
        rows = {"direct": [], "proxy": [], "transparent": []}
        for _ in range(args.rounds):
            for mode in rows:
                cmd = ["python3", "-c", code, mode, "127.0.0.1", str(hp), str(args.requests), str(ep)]
                if mode != "direct":
                    cmd = [CORDON, "run", "--policy", policy, "--"] + cmd
                rows[mode].append(run(cmd))
    print(f"egress: µs per connection (median of {args.rounds} rounds x {args.requests} requests), "
          "fresh TCP connection each")
    base = {k: statistics.median(r[k] for r in rows["direct"]) for k in ("http", "tcp")}
    print(f"{'path':<12} {'http GET':>10} {'x direct':>9} {'tcp echo':>10} {'x direct':>9}")
    for mode, rs in rows.items():
        h = statistics.median(r["http"] for r in rs)
        t = statistics.median(r["tcp"] for r in rs) if "tcp" in rs[0] else None
        ts = f"{t:10.1f} {t / base['tcp']:8.2f}x" if t is not None else f"{'-':>10} {'':>9}"
        print(f"{mode:<12} {h:10.1f} {h / base['http']:8.2f}x {ts}")


if __name__ == "__main__":
    main()
