from asyncio.unix_events import signal as s
s.signal(15, 1)
s.signal(24, 1)
