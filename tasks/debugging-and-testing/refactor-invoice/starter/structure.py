"""The structure rules the grader applies to every .py file you hand in (tests excepted).

    python3 structure.py          # prints each function's complexity and length

Complexity of a function = 1, plus 1 for each: `if` / `elif`, conditional expression
(`a if c else b`), `for` / `while` loop, `except` clause, `case` clause, comprehension
`for` and comprehension `if`, and each `and` / `or` operator (`a and b and c` adds 2).
A nested function or lambda is measured on its own and adds nothing to the outer one.
Length = lines from the `def` line to the function's last line, docstring included.
"""

import ast
import sys
from pathlib import Path

MAX_COMPLEXITY = 6
MAX_LENGTH = 30
FORBIDDEN_CALLS = {"exec", "eval", "compile", "__import__"}
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
BRANCHES = (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler, ast.match_case)


def complexity(function):
    score = 1
    pending = list(ast.iter_child_nodes(function))
    while pending:
        node = pending.pop()
        if isinstance(node, FUNCTIONS):
            continue
        if isinstance(node, BRANCHES):
            score += 1
        elif isinstance(node, ast.BoolOp):
            score += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            score += 1 + len(node.ifs)
        pending.extend(ast.iter_child_nodes(node))
    return score


def functions(tree):
    """(name, line, complexity, length) of every function and lambda in the module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, FUNCTIONS):
            name = getattr(node, "name", "<lambda>")
            found.append((name, node.lineno, complexity(node), node.end_lineno - node.lineno + 1))
    return found


def forbidden_calls(tree):
    return sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS})


def handed_in(folder):
    """The Python files the rules apply to: everything except tests."""
    return sorted(path for path in Path(folder).rglob("*.py")
                  if not path.name.startswith("test_") and not path.name.endswith("_test.py")
                  and path.name != "conftest.py")


if __name__ == "__main__":
    for path in handed_in(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        if path.name == "structure.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, line, score, length in functions(tree):
            flag = "  <-- too complex" if score > MAX_COMPLEXITY else ""
            flag += "  <-- too long" if length > MAX_LENGTH else ""
            print(f"{path}:{line} {name}: complexity {score}, {length} lines{flag}")
