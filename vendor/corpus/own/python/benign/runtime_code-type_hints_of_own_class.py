from typing import get_type_hints, List
class Point:
    x: int
    y: 'List[int]'
print(get_type_hints(Point))
