class Visitor:
    def visit(self, node):
        return getattr(self, 'visit_' + type(node).__name__, self.generic)(node)
    def visit_int(self, n):
        return n * 2
    def generic(self, n):
        return None
print(Visitor().visit(4))
