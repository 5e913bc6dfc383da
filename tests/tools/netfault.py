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
Prints one line with the counts and exits 0 when every connection got as
far as its mode says.
"""
import socket
import ssl
import struct
import sys
import time

SP_REQ0 = b"\x00SP\x00\x00\x30\x00\x00"


def connect(host, port, keydir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(keydir + "/ca.crt")
    ctx.load_cert_chain(keydir + "/tls.crt", keydir + "/tls.key")
    ctx.check_hostname = False
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
    else:
        print("unknown mode " + mode, file=sys.stderr)
        return 2
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(main())
