from operator import attrgetter
from dataclasses import dataclass
@dataclass
class P:
    name: str
    age: int
people = [P('b', 3), P('a', 5)]
print(sorted(people, key=attrgetter(input() or 'name')))
