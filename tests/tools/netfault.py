#!/usr/bin/env python3
"""netfault.py: misbehaving TLS clients for the broker's agent port.

Each mode holds or drops connections the way a broken network or a broken
peer would, over real mutual TLS on loopback (the certificate is a real
agent's, from art17-pki), and speaks nng's SP-over-TCP framing: an 8-byte
header (0, 'S', 'P', 0, protocol 0x0030 = REQ0, 0, 0), then messages as a
64-bit big-endian length and the bytes.

  netfault.py HOST PORT KEYDIR midmessage N
      N connections: handshake, announce a 64 KiB message, send 100 bytes
      of it, drop the connection.
  netfault.py HOST PORT KEYDIR silent N SECONDS
      N connections: handshake and SP header, then never send or read
      anything for SECONDS, then drop them all.
  netfault.py HOST PORT KEYDIR flood N SECONDS
      N connections opened at once, without blocking: each runs the TLS
      handshake and the SP header as far as the broker lets it (a broker
      out of descriptors leaves them in its listen queue). Once none is
      waiting any more (each got the SP header or was closed; at most
      120 s), the open ones are held for SECONDS more, then dropped.
      Prints, every second, how many got the SP header, how many the
      broker closed, and how many were still waiting; exits 0 whatever
      the counts (the broker decides them).
  netfault.py HOST PORT KEYDIR halfopen N SECONDS
      N TCP connections that never start TLS, opened at once without
      blocking and held for SECONDS from the start; the counts are
      printed as for flood.
Prints one line with the counts and exits 0 when every connection got as
far as its mode says.
"""
import selectors
import socket
import ssl
import struct
import sys
import time

SP_REQ0 = b"\x00SP\x00\x00\x30\x00\x00"


def connect(host, port, keydir):
    ctx = context(keydir)
    raw = socket.create_connection((host, port), timeout=30)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(SP_REQ0)
    hdr = b""
    while len(hdr) < 8:
        chunk = s.recv(8 - len(hdr))
        if not chunk:
            raise ConnectionError("closed during the SP header")
        hdr += chunk
    if hdr[:4] != b"\x00SP\x00":
        raise ConnectionError("not an SP peer: %r" % hdr)
    return s


def context(keydir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(keydir + "/ca.crt")
    ctx.load_cert_chain(keydir + "/tls.crt", keydir + "/tls.key")
    ctx.check_hostname = False
    return ctx


class Flooder:
    """One non-blocking connection: TCP, TLS, SP header, then silence."""

    def __init__(self, ctx, host, port, tls=True):
        self.ctx = ctx
        self.tls = tls
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setblocking(False)
        self.s.connect_ex((host, port))
        self.state = "tcp"  # tcp, tls, header, open, closed
        self.out = SP_REQ0
        self.got = b""

    def step(self):
        """Advances as far as possible; returns the events to wait for."""
        try:
            if self.state == "tcp":
                err = self.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    self.state = "closed"
                    return 0
                if not self.tls:
                    self.state = "open"
                    return selectors.EVENT_READ
                self.s = self.ctx.wrap_socket(self.s,
                                              server_hostname="localhost",
                                              do_handshake_on_connect=False)
                self.state = "tls"
            if self.state == "tls":
                self.s.do_handshake()
                self.state = "header"
            if self.state == "header":
                while self.out:
                    self.out = self.out[self.s.send(self.out):]
                while len(self.got) < 8:
                    chunk = self.s.recv(8 - len(self.got))
                    if not chunk:
                        self.state = "closed"
                        return 0
                    self.got += chunk
                self.state = "open"
            if self.state == "open":
                # silent: only notice the broker closing the connection
                try:
                    if self.s.recv(1024) == b"":
                        self.state = "closed"
                        return 0
                except BlockingIOError:
                    pass
            return selectors.EVENT_READ
        except ssl.SSLWantReadError:
            return selectors.EVENT_READ
        except ssl.SSLWantWriteError:
            return selectors.EVENT_WRITE
        except (BlockingIOError, InterruptedError):
            return selectors.EVENT_READ | selectors.EVENT_WRITE
        except (OSError, ssl.SSLError):
            self.state = "closed"
            return 0


def flood(host, port, keydir, n, hold, tls=True):
    ctx = context(keydir)
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(n):
        c = Flooder(ctx, host, port, tls)
        conns.append(c)
        sel.register(c.s, selectors.EVENT_WRITE, c)
    counts = lambda st: sum(1 for c in conns if c.state == st)
    name = "flood" if tls else "halfopen"
    print("%s: %d connections started, holding %.0f s" % (name, n, hold),
          flush=True)
    start = time.monotonic()
    # flood: the hold starts once every connection got its answer
    end = start + hold if not tls else start + 120
    settled = not tls
    last = 0
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            c = key.data
            sel.unregister(key.fileobj)
            ev = c.step()
            if ev == 0:
                c.s.close()
            else:
                sel.register(c.s, ev, c)
        now = time.monotonic()
        if not settled and counts("open") + counts("closed") == n:
            settled = True
            end = now + hold
            print("%s: settled after %.1f s" % (name, now - start), flush=True)
        if now - last >= 1:
            last = now
            print("%s: %d open, %d closed by the broker, %d waiting" %
                  (name, counts("open"), counts("closed"),
                   n - counts("open") - counts("closed")), flush=True)
    print("%s: done: %d open, %d closed by the broker, %d waiting" %
          (name, counts("open"), counts("closed"),
           n - counts("open") - counts("closed")), flush=True)
    for c in conns:
        if c.state != "closed":
            c.s.close()
    return 0


def main():
    host, port, keydir, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    n = int(sys.argv[5])
    ok = 0
    if mode == "midmessage":
        for _ in range(n):
            s = connect(host, port, keydir)
            s.sendall(struct.pack(">Q", 65536) + b"\xa5" * 100)
            s.close()
            ok += 1
        print("midmessage: %d of %d connections dropped mid-message" % (ok, n))
    elif mode == "silent":
        hold = float(sys.argv[6])
        socks = []
        for _ in range(n):
            socks.append(connect(host, port, keydir))
        ok = len(socks)
        print("silent: %d of %d connections open, holding %.0f s" % (ok, n, hold),
              flush=True)
        time.sleep(hold)
        for s in socks:
            s.close()
    elif mode == "flood":
        return flood(host, port, keydir, n, float(sys.argv[6]))
    elif mode == "halfopen":
        return flood(host, port, keydir, n, float(sys.argv[6]), tls=False)
    else:
        print("unknown mode " + mode, file=sys.stderr)
        return 2
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(main())
