import typing
typing.ForwardRef(input())._evaluate(globals(), None, frozenset())
