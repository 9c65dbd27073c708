"""A cordond of its own for the bench scripts (daemon_load.py, soak.py): a temporary socket, state
dir and configuration naming the current user (and, as root, user nobody as a second tenant), so
that other cordond instances on the host do not blur the numbers. Not a benchmark itself."""
import json, os, pwd, shutil, subprocess, tempfile, time


class Cordond:
    """Starts `cordond` (default: BUILD/bin/cordond) with `extra` flags. principals: a dict to
    write as principals.json, or None for one naming the current user (every policy, interactive
    and batch, managing all tasks) plus, as root, user nobody (tenant bulk)."""

    def __init__(self, build, prefix, extra=(), principals=None, cordond=None, own_leases=False):
        self.build = os.path.abspath(build)
        self.cordon = f"{self.build}/bin/cordon"
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.tmp, 0o755)
        self.sock, self.state, self.config = f"{self.tmp}/cordond.sock", f"{self.tmp}/state", f"{self.tmp}/config"
        self.leases = f"{self.tmp}/ids" if own_leases and os.geteuid() == 0 else None
        os.makedirs(self.config)
        json.dump(principals or default_principals(), open(f"{self.config}/principals.json", "w"))
        argv = [cordond or f"{self.build}/bin/cordond", "--socket", self.sock, "--state-dir", self.state,
                "--config-dir", self.config, "--grace-ms", "1000"]
        if self.leases:
            argv += ["--id-lock-dir", self.leases]
        self.log = f"{self.tmp}/cordond.log"
        self.proc = subprocess.Popen(argv + list(extra), stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        self.env = dict(os.environ, CORDON_SOCKET=self.sock)
        for _ in range(500):
            if os.path.exists(self.sock) and "listening on" in open(self.log).read():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("cordond exited at start: " + open(self.log).read())
            time.sleep(0.02)

    def stop(self, keep_dir=False):
        self.proc.send_signal(15)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not keep_dir:
            shutil.rmtree(self.tmp, ignore_errors=True)


def nobody():
    """User nobody as a second tenant when we run as root (else None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


def default_principals():
    me = pwd.getpwuid(os.geteuid()).pw_name
    role = {"policies": ["*"], "classes": ["interactive", "batch"], "manage_all_tasks": True}
    principals = [{"name": me, "tenant": "local", "uids": [os.geteuid()], "roles": ["operator"]}]
    other = nobody()
    if other:
        principals.append({"name": "bulk", "tenant": "bulk", "uids": [other.pw_uid], "roles": ["operator"]})
    return {"version": 1, "roles": {"operator": role}, "principals": principals}


# ---- A raw API client (docs/api.md "Framing"): calls timed without a CLI process's start-up ----

def _varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(num, payload):  # a length-delimited field
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def list_request(call_id):
    return _varint(1 << 3) + _varint(call_id) + _field(14, b"\x10\x01")  # List{limit: 1}


def submit_request(call_id, argv):
    return _varint(1 << 3) + _varint(call_id) + _field(10, b"".join(_field(5, a.encode()) for a in argv))


def _read_varint(payload, i):
    """The varint at payload[i:] and the index after it."""
    n, shift = 0, 0
    while True:
        b = payload[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def _has_error(payload):
    """Whether a Response sets `error` (field 2) at its top level."""
    i = 0
    while i < len(payload):
        key, i = _read_varint(payload, i)
        num, wire = key >> 3, key & 7
        if num == 2:
            return True
        if wire == 0:
            _, i = _read_varint(payload, i)
        elif wire == 2:
            n, i = _read_varint(payload, i)
            i += n
        else:
            return False
    return False


class RawClient:
    """One connection to cordond; call() sends a Request and returns (ms, ok) for its Response."""

    def __init__(self, sock_path):
        import socket
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(sock_path)
        self.next_id = 1

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("cordond closed the connection")
            buf += chunk
        return buf

    def call(self, make):
        import struct
        self.next_id += 1
        req = make(self.next_id)
        t = time.perf_counter()
        self.s.sendall(struct.pack("<I", len(req)) + req)
        (n,) = struct.unpack("<I", self._recv(4))
        payload = self._recv(n)
        return (time.perf_counter() - t) * 1000, not _has_error(payload)

    def close(self):
        self.s.close()
