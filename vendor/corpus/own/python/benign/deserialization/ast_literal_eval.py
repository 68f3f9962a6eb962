import ast
print(ast.literal_eval(input() or '[1, 2, {"a": (3, 4)}]'))
