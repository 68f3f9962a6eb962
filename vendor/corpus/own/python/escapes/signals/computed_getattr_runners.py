import asyncio.runners, sys
sig = getattr(asyncio.runners, sys.argv[1])
sig.signal(15, 1)
