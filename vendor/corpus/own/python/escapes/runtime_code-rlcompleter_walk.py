import rlcompleter
c = rlcompleter.Completer()
print(c.complete(input(), 0))
