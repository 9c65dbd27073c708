#!/usr/bin/env python3
"""A minimal cordond client (docs/api.md): submit a command with this process's stdio, wait for it,
print its outcome, exit with its exit code.

Needs python3-protobuf (Debian) and the generated module:
    protoc --proto_path=proto --python_out=/tmp/cordon-pb proto/cordon.proto
    python3 docs/examples/client.py --pb-dir /tmp/cordon-pb -- python3 -c 'print(6 * 7)'
"""
import argparse
import json
import os
import socket
import struct
import sys


def default_socket():
    if os.geteuid() == 0:
        return "/run/cordon/cordond.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or "/tmp/cordon-%d" % os.geteuid()
    return os.path.join(runtime, "cordon", "cordond.sock")


class Client:
    MAX_FRAME = 1 << 20

    def __init__(self, path, pb):
        self.pb = pb
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.next_call = 1

    def call(self, fds=(), **call):
        """Sends a Request with one call set (e.g. submit=SubmitRequest(...)); returns the Response."""
        req = self.pb.Request(call_id=self.next_call, **call)
        self.next_call += 1
        body = req.SerializeToString()
        frame = struct.pack("<I", len(body)) + body
        if fds:
            # The fds ride on the frame's first byte (SCM_RIGHTS); the rest follows as plain data.
            sent = socket.send_fds(self.sock, [frame], list(fds))
            self.sock.sendall(frame[sent:])
        else:
            self.sock.sendall(frame)
        while True:
            resp = self.receive()
            if resp.call_id in (req.call_id, 0):
                if resp.HasField("error"):
                    name = self.pb.ErrorCode.Name(resp.error.code)
                    raise RuntimeError("%s: %s" % (name, resp.error.message))
                return resp

    def receive(self):
        (n,) = struct.unpack("<I", self._read(4))
        if n > self.MAX_FRAME:
            raise RuntimeError("frame of %d bytes above the limit" % n)
        resp = self.pb.Response()
        resp.ParseFromString(self._read(n))
        return resp

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("cordond closed the connection")
            buf += chunk
        return buf


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", default=os.environ.get("CORDON_SOCKET") or default_socket())
    ap.add_argument("--pb-dir", help="directory with cordon_pb2.py (protoc --python_out)")
    ap.add_argument("--policy", default="", help="policy name (default: the daemon's 'default')")
    ap.add_argument("--request-id", default="", help="idempotency key")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given")
    if args.pb_dir:
        sys.path.insert(0, args.pb_dir)
    import cordon_pb2 as pb

    client = Client(args.socket, pb)
    submit = pb.SubmitRequest(argv=[os.fsencode(a) for a in cmd], policy=args.policy, app_id="docs/examples/client.py",
                              request_id=args.request_id, stdio=True)
    setattr(submit, "class", pb.TASK_CLASS_BATCH)  # "class" is a Python keyword
    sys.stdout.flush()
    task = client.call(fds=(0, 1, 2), submit=submit).submit.task
    done = client.call(wait=pb.WaitRequest(task_id=task.task_id)).wait.task
    evidence = json.loads(client.call(evidence=pb.EvidenceRequest(task_id=task.task_id)).evidence.evidence_json)
    print("task %s: %s, exit code %d, principal %s, %d us to exec" % (
        done.task_id, done.failure_class, done.exit_code, done.principal,
        evidence.get("timing", {}).get("exec_us", -1)), file=sys.stderr)
    return done.exit_code


if __name__ == "__main__":
    sys.exit(main())
