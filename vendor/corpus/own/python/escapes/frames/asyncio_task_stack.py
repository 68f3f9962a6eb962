import asyncio, operator
async def main():
    for fr in asyncio.current_task().get_stack():
        print(operator.attrgetter(input())(fr))
asyncio.run(main())
