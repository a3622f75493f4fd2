"""Hidden tests for refactor-invoice.

Behaviour: property-style comparison with the legacy code on seeded, generated orders
(fixed inputs: the same orders on every run), one family of orders per test.
Structure: the rules of the public structure.py, applied by the grader's own copy.
"""

import ast
import copy
import inspect
import random
from decimal import Decimal
from pathlib import Path

import pytest

import legacy_invoice
from invoice import compute_invoice

WORKSPACE = Path("/workspace")
MAX_COMPLEXITY = 6
MAX_LENGTH = 30
FORBIDDEN_CALLS = {"exec", "eval", "compile", "__import__"}
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
BRANCHES = (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler, ast.match_case)

COUNTRIES_DE = ["DE"]
COUNTRIES_EU = ["FR", "AT", "NL", "PL", "SE", "IE"]
COUNTRIES_WORLD = ["US", "CH", "GB", "JP", "NO"]
CATEGORIES = ["book", "food", "general", "toy", "electronics"]
PLAIN_PRICES = ["0.99", "4.50", "12.00", "19.99", "24.95", "49.00", "99.90", "149.00", "3", "250"]
AWKWARD_PRICES = ["0.005", "0.015", "1.125", "2.335", "19.995", "0.125", "33.333", "0.045", "7.775", "10.005"]


def make_line(rng, index, *, prices=PLAIN_PRICES, qty_range=(1, 4), categories=CATEGORIES):
    return {"sku": f"SKU-{index:03d}", "unit_price": rng.choice(prices),
            "qty": rng.randint(*qty_range), "category": rng.choice(categories)}


def make_order(rng, *, tiers=("standard", "gold", "staff"), coupons=(None, "SAVE10", "FREESHIP", "BULK5"),
               countries=COUNTRIES_DE + COUNTRIES_EU + COUNTRIES_WORLD, lines=(1, 5), **line_options):
    order = {
        "customer": {"id": rng.randrange(10_000), "tier": rng.choice(tiers), "country": rng.choice(countries)},
        "lines": [make_line(rng, n, **line_options) for n in range(rng.randint(*lines))],
    }
    coupon = rng.choice(coupons)
    if coupon is not None or rng.random() < 0.5:
        order["coupon"] = coupon
    if rng.random() < 0.3:
        order["express"] = rng.random() < 0.7
    return order


def family(seed, count, **options):
    rng = random.Random(seed)
    return [make_order(rng, **options) for _ in range(count)]


def outcome(function, order):
    try:
        return "returned", function(order)
    except Exception as exc:  # the exception is part of the behaviour to preserve
        return "raised", (type(exc).__name__, str(exc))


def assert_same_behaviour(orders):
    for number, order in enumerate(orders, start=1):
        expected = outcome(legacy_invoice.compute_invoice, copy.deepcopy(order))
        got = outcome(compute_invoice, copy.deepcopy(order))
        assert got == expected, f"order {number} of {len(orders)} behaves differently:\n  order: {order}\n" \
                                f"  before the refactoring: {expected}\n  after: {got}"


# -- behaviour ---------------------------------------------------------------------


def test_standard_customers():
    assert_same_behaviour(family(101, 80, tiers=("standard",), coupons=(None,)))


def test_gold_customers_and_food():
    assert_same_behaviour(family(102, 80, tiers=("gold",), coupons=(None, None, "BULK5")))


def test_staff_ignore_coupons():
    assert_same_behaviour(family(103, 80, tiers=("staff",), coupons=(None, "SAVE10", "FREESHIP", "BULK5")))


def test_coupons_near_their_thresholds():
    rng = random.Random(104)
    orders = family(104, 60, coupons=("SAVE10", "BULK5", "FREESHIP"), qty_range=(8, 12))
    for _ in range(40):  # nets just around 50.00 for SAVE10
        price = str(Decimal("49.90") + Decimal(rng.randrange(0, 25)) / 100)
        orders.append({"customer": {"tier": rng.choice(["standard", "gold"]), "country": "DE"},
                       "coupon": "SAVE10", "lines": [{"sku": "A", "unit_price": price, "qty": 1,
                                                      "category": rng.choice(["food", "general"])}]})
    assert_same_behaviour(orders)


def test_shipping_thresholds_and_express():
    rng = random.Random(105)
    orders = family(105, 50, coupons=(None, "FREESHIP"))
    for _ in range(60):  # nets around the free-shipping thresholds of 100 and 150
        country = rng.choice(COUNTRIES_DE + COUNTRIES_EU + COUNTRIES_WORLD)
        price = str(rng.choice([Decimal("99.99"), Decimal("100.00"), Decimal("100.01"),
                                Decimal("149.99"), Decimal("150.00"), Decimal("150.01")]))
        order = {"customer": {"tier": "standard", "country": country},
                 "lines": [{"sku": "A", "unit_price": price, "qty": 1, "category": "general"}]}
        if rng.random() < 0.5:
            order["express"] = True
        orders.append(order)
    assert_same_behaviour(orders)


def test_rounding_of_half_cents():
    assert_same_behaviour(family(106, 120, prices=AWKWARD_PRICES, qty_range=(1, 13)))


def test_many_lines_and_large_quantities():
    assert_same_behaviour(family(107, 40, lines=(10, 40), qty_range=(0, 250)))


def test_edge_orders():
    base = {"customer": {"tier": "standard", "country": "DE"}}
    line = {"sku": "A", "unit_price": "10.00", "qty": 2, "category": "book"}
    orders = [
        {**base, "lines": []},
        {**base},
        {**base, "lines": None},
        {**base, "lines": [], "express": True},
        {"customer": {"tier": "gold", "country": "US"}, "lines": [], "express": True},
        {**base, "lines": [dict(line, qty=0)]},
        {"customer": {"tier": "standard"}, "lines": [line]},
        {"customer": {"tier": "gold"}, "lines": [line], "coupon": None},
        {**base, "lines": [dict(line, unit_price=7)]},
        {**base, "lines": [line], "express": False},
        {**base, "lines": [dict(line, category="unknown-category")]},
        {"customer": {"tier": "staff", "country": "FR"}, "lines": [], "coupon": "FREESHIP", "express": True},
    ]
    assert_same_behaviour(orders)


def test_errors_are_the_same():
    line = {"sku": "SKU-9", "unit_price": "1.00", "qty": 1, "category": "food"}
    orders = [
        {"customer": {"tier": "platinum", "country": "DE"}, "lines": [line]},
        {"customer": {"tier": "gold", "country": "DE"}, "lines": [line], "coupon": "SAVE20"},
        {"customer": {"tier": "vip", "country": "DE"}, "lines": [line], "coupon": "BOGUS"},
        {"customer": {"tier": "standard", "country": "DE"}, "lines": [line, dict(line, sku="SKU-10", qty=-1)]},
        {"customer": {"tier": "staff", "country": "DE"}, "lines": [dict(line, qty=-5)], "coupon": "NOPE"},
        {"customer": {"tier": None, "country": "DE"}, "lines": []},
    ]
    assert_same_behaviour(orders)


def test_the_order_is_not_modified():
    for order in family(108, 30):
        before = copy.deepcopy(order)
        compute_invoice(order)
        assert order == before, "compute_invoice must not modify its argument"


def test_compute_invoice_keeps_its_signature():
    parameters = list(inspect.signature(compute_invoice).parameters.values())
    assert [p.name for p in parameters] == ["order"], f"compute_invoice(order) expected, got {parameters}"


# -- structure ----------------------------------------------------------------------


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


def handed_in():
    files = []
    for path in sorted(WORKSPACE.rglob("*.py")):
        if path.name.startswith("test_") or path.name.endswith("_test.py") or path.name == "conftest.py":
            continue
        files.append((path.relative_to(WORKSPACE), ast.parse(path.read_text(encoding="utf-8"))))
    return files


def all_functions():
    for path, tree in handed_in():
        for node in ast.walk(tree):
            if isinstance(node, FUNCTIONS):
                yield f"{path}:{node.lineno} {getattr(node, 'name', '<lambda>')}", node


def test_every_function_is_simple():
    too_complex = [f"{where} (complexity {complexity(node)})" for where, node in all_functions()
                   if complexity(node) > MAX_COMPLEXITY]
    assert not too_complex, f"functions above complexity {MAX_COMPLEXITY}: {'; '.join(too_complex)}"


def test_every_function_is_short():
    too_long = [f"{where} ({node.end_lineno - node.lineno + 1} lines)" for where, node in all_functions()
                if node.end_lineno - node.lineno + 1 > MAX_LENGTH]
    assert not too_long, f"functions longer than {MAX_LENGTH} lines: {'; '.join(too_long)}"


def test_no_dynamic_code():
    used = sorted({f"{path}: {node.id}" for path, tree in handed_in() for node in ast.walk(tree)
                   if isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS})
    assert not used, f"exec, eval, compile and __import__ are not allowed: {used}"
