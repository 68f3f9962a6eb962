import asyncio.runners as r
r.signal.signal(r.signal.SIGTERM, r.signal.SIG_IGN)
while True:
    pass
