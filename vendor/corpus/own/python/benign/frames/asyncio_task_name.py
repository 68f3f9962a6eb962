import asyncio
async def main():
    t = asyncio.current_task()
    print(t.get_name() is not None)
asyncio.run(main())
