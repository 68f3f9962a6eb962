import operator, sys, gc
key = operator.attrgetter(input())
print(sorted([sys, gc], key=key))
