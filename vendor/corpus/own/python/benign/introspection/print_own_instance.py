class Node:
    def __repr__(self):
        return 'Node()'
print(Node(), f'{Node()!r}')
