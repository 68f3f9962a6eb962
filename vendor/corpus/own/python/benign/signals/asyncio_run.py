import asyncio
async def main():
    await asyncio.sleep(0)
    return 7
print(asyncio.run(main()))
