#!/usr/bin/env python3
"""Sends exactly COUNT requests, one after another on one kept-alive
connection, and prints `RESULT <count> <2xx> <other statuses> <errors>`.

`scripts/bench-front --instructions` drives a front under callgrind with it:
a fixed number of requests, so instructions divide into a per-request figure
(wrk runs for a duration, and its count varies with the machine's load).

  fixed_count.py HOST PORT METHOD PATH COUNT [--key KEY] [--body FILE] [--vary TAG]

--vary TAG: each request's first file starts with its own comment line
(`# TAG <n>`), so no two programs are the same: every one is screened anew
instead of being answered from the verdict cache (a new TAG per run keeps
runs apart too).
"""

import argparse
import http.client
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("method")
    p.add_argument("path")
    p.add_argument("count", type=int)
    p.add_argument("--key", default="")
    p.add_argument("--body", default=None)
    p.add_argument("--vary", default=None, metavar="TAG")
    a = p.parse_args()

    body = open(a.body, "rb").read() if a.body else None
    marker = b'"content":"'
    if a.vary is not None and (body is None or marker not in body):
        sys.exit("fixed_count.py: --vary needs a body with a file's \"content\"")
    headers = {}
    if a.key:
        headers["X-Api-Key"] = a.key
    if body is not None:
        headers["Content-Type"] = "application/json"

    # Generous: under callgrind a request takes 50-100 times its usual CPU.
    conn = http.client.HTTPConnection(a.host, a.port, timeout=300)
    ok = other = errors = 0
    for n in range(a.count):
        sent = body
        if a.vary is not None:
            line = b"# %s %d\\n" % (a.vary.encode(), n)
            sent = body.replace(marker, marker + line, 1)
        try:
            conn.request(a.method, a.path, body=sent, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException) as e:
            errors += 1
            print(f"fixed_count.py: request {n}: {e}", file=sys.stderr)
            conn.close()
            continue
        if 200 <= resp.status < 300:
            ok += 1
        else:
            other += 1
    conn.close()
    print(f"RESULT {a.count} {ok} {other} {errors}")


if __name__ == "__main__":
    main()
