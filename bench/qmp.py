#!/usr/bin/env python3
"""QMP and control-socket helper of bench/migrate (python3, stdlib only).

  qmp.py migrate QMP URI DOWNTIME_MS BANDWIDTH
      On a running QEMU's QMP socket: capabilities auto-converge and
      return-path on, downtime-limit DOWNTIME_MS, max-bandwidth BANDWIDTH
      (bytes/s), migrate to URI, poll query-migrate every 20 ms until it
      ends; prints the final query-migrate as one JSON line and exits 0
      when it completed, 1 otherwise. The source QEMU is left paused
      (postmigrate): quit it.
  qmp.py snapshot QMP FILE BANDWIDTH
      QEMU's equivalent of vmm ctl snapshot: max-bandwidth BANDWIDTH
      (bytes/s: the limit applies to a stopped VM's migration too), stop,
      migrate to FILE (an fd
      of it passed with getfd: QEMU writes the file itself, no pipe),
      wait for the MIGRATION completed event, fsync FILE. Prints
      {"total-ms": MS, "qemu-total-time": MS}: MS from the migrate command
      to the fsync's end (the guest stopped throughout, like vmm's
      total-ms from its pause's end to the synced file).
  qmp.py status QMP       prints QEMU's run state
  qmp.py quit QMP
  qmp.py restore vmm|qemu SOCK OUT ERR [--fd FILE] -- CMD...
      Runs CMD (stdout to OUT, stderr to ERR; with --fd, FILE open for
      reading and its descriptor number put in place of every {fd} in
      CMD) and times from just before the exec: running-ms, until SOCK
      (vmm: the --api socket; qemu: QMP) first answers query-status with
      "running" (QEMU: once it says "paused", the stream loaded, cont is
      sent: a stopped VM's stream comes back stopped); line-ms, until OUT
      first holds a complete line. Then waits up to 400 s for CMD to end.
      Prints "running-ms line-ms status".
"""
import json
import os
import socket
import subprocess
import sys
import time


class Chan:
    def __init__(self, path, timeout=600):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.events = []

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("the socket closed")
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return json.loads(ln)

    def send(self, obj, fds=None):
        data = (json.dumps(obj) + "\n").encode()
        if fds:
            socket.send_fds(self.s, [data], fds)
        else:
            self.s.sendall(data)


class Qmp(Chan):
    def __init__(self, path, timeout=600):
        super().__init__(path, timeout)
        self.line()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, fds=None, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.send(msg, fds)
        while True:
            r = self.line()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]))
            return r["return"]

    def wait_event(self, pred):
        while True:
            for i, e in enumerate(self.events):
                if pred(e):
                    del self.events[i]
                    return e
            r = self.line()
            if "event" in r:
                self.events.append(r)


def caps(q, names):
    q.cmd("migrate-set-capabilities",
          capabilities=[{"capability": c, "state": True} for c in names])


def migrate(path, uri, downtime, bw):
    q = Qmp(path)
    caps(q, ["auto-converge", "return-path"])
    q.cmd("migrate-set-parameters", **{"downtime-limit": int(downtime),
                                      "max-bandwidth": int(bw)})
    q.cmd("migrate", uri=uri)
    while True:
        r = q.cmd("query-migrate")
        if r.get("status") in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.02)
    print(json.dumps(r, separators=(",", ":")))
    return 0 if r["status"] == "completed" else 1


def snapshot(path, file, bw):
    q = Qmp(path)
    caps(q, ["events"])
    # QEMU 7.2 rate-limits a migration of a stopped VM too (128 MiB/s by
    # default); libvirt's save to a file lifts the limit the same way.
    q.cmd("migrate-set-parameters", **{"max-bandwidth": int(bw)})
    q.cmd("stop")
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    q.cmd("getfd", fds=[fd], fdname="snap")
    t0 = time.monotonic()
    q.cmd("migrate", uri="fd:snap")
    e = q.wait_event(lambda e: e["event"] == "MIGRATION" and
                     e["data"]["status"] in ("completed", "failed",
                                             "cancelled"))
    if e["data"]["status"] != "completed":
        print("qmp.py: snapshot: %s" % e["data"]["status"], file=sys.stderr)
        return 1
    # QEMU closes its copy in a bottom half after the event: the data is
    # all written by then (its buffer is flushed before completion).
    os.fsync(fd)
    ms = (time.monotonic() - t0) * 1000
    os.close(fd)
    r = q.cmd("query-migrate")
    print(json.dumps({"total-ms": round(ms, 3),
                      "qemu-total-time": r.get("total-time")},
                     separators=(",", ":")))
    return 0


def status_(path):
    print(Qmp(path, timeout=60).cmd("query-status")["status"])
    return 0


def quit_(path):
    try:
        Qmp(path, timeout=30).cmd("quit")
    except (EOFError, ConnectionResetError):
        pass
    return 0


def connect(kind, path):
    """A connection to SOCK once it listens, or None."""
    try:
        return Qmp(path) if kind == "qemu" else Chan(path)
    except (FileNotFoundError, ConnectionRefusedError, EOFError,
            ConnectionResetError):
        return None


def query_status(kind, c):
    if kind == "qemu":
        return c.cmd("query-status")["status"]
    c.send({"id": 1, "command": "query-status"})
    return c.line()["return"]["status"]


def restore(kind, path, out, err, args):
    fds = []
    if args[0] == "--fd":
        fds = [os.open(args[1], os.O_RDONLY)]
        args = args[2:]
    assert args[0] == "--"
    cmd = [a.replace("{fd}", str(fds[0])) if fds else a for a in args[1:]]
    o = open(out, "wb")
    e = open(err, "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                         pass_fds=fds)
    for fd in fds:
        os.close(fd)
    running = line = c = None
    deadline = t0 + 300
    # One request at a time on one connection: a VMM busy loading
    # answers when it can (vmm's API thread starts after the vCPUs).
    try:
        while running is None and p.poll() is None and \
                time.monotonic() < deadline:
            if c is None:
                c = connect(kind, path)
            st = query_status(kind, c) if c is not None else None
            if st == "running":
                running = time.monotonic()
                break
            if st == "paused":
                # QEMU keeps the run state it saved: a stopped VM's
                # stream comes back stopped (libvirt's restore does the
                # same cont).
                c.cmd("cont")
                continue
            time.sleep(0.001)
    except (EOFError, ConnectionResetError, KeyError):
        pass
    while line is None and p.poll() is None and time.monotonic() < deadline:
        with open(out, "rb") as f:
            if b"\n" in f.read():
                line = time.monotonic()
                break
        time.sleep(0.001)
    if c is not None:
        c.s.close()
    try:
        rc = p.wait(timeout=400)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    ms = lambda t: "%.1f" % ((t - t0) * 1000) if t is not None else "-"
    print(ms(running), ms(line), rc)
    return 0


def main(a):
    if a[0] == "migrate":
        return migrate(*a[1:5])
    if a[0] == "snapshot":
        return snapshot(a[1], a[2], a[3])
    if a[0] == "status":
        return status_(a[1])
    if a[0] == "quit":
        return quit_(a[1])
    if a[0] == "restore":
        return restore(a[1], a[2], a[3], a[4], a[5:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
