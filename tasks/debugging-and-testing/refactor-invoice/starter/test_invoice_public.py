"""Public tests. Run with `python3 -m pytest` in this folder.

The first tests pin today's behaviour (they pass now and must keep passing); the last one
applies the structure rules of structure.py (it fails now).
"""

import ast
from pathlib import Path

import pytest

import structure
from invoice import compute_invoice

PINNED = [
    ({"customer": {"tier": "standard", "country": "DE"},
      "lines": [{"sku": "BOOK-1", "unit_price": "12.99", "qty": 2, "category": "book"},
                {"sku": "MUG-7", "unit_price": "8.50", "qty": 1, "category": "general"}]},
     {"subtotal": "34.48", "discount": "0.00", "shipping": "4.90", "tax": "4.37", "total": "43.75"}),
    ({"customer": {"tier": "gold", "country": "FR"}, "coupon": "SAVE10",
      "lines": [{"sku": "TEA-3", "unit_price": "4.20", "qty": 12, "category": "food"},
                {"sku": "LAMP-2", "unit_price": "39.90", "qty": 1, "category": "general"}]},
     {"subtotal": "90.30", "discount": "12.62", "shipping": "9.90", "tax": "19.24", "total": "106.82"}),
    ({"customer": {"tier": "staff", "country": "US"}, "coupon": "FREESHIP", "express": True,
      "lines": [{"sku": "PEN-1", "unit_price": "0.995", "qty": 3, "category": "general"}]},
     {"subtotal": "2.99", "discount": "0.90", "shipping": "34.90", "tax": "0.00", "total": "36.99"}),
    ({"customer": {"tier": "standard", "country": "DE"}, "coupon": "BULK5",
      "lines": [{"sku": "CLIP-1", "unit_price": "0.35", "qty": 40, "category": "general"}]},
     {"subtotal": "14.00", "discount": "0.70", "shipping": "4.90", "tax": "3.46", "total": "21.66"}),
]


@pytest.mark.parametrize("order,expected", PINNED, ids=["statement-example", "gold-save10", "staff-express", "bulk5"])
def test_pinned_invoices(order, expected):
    assert compute_invoice(order) == expected


def test_unknown_coupon_is_refused():
    with pytest.raises(ValueError, match="unknown coupon: SAVE20"):
        compute_invoice({"customer": {"tier": "standard"}, "coupon": "SAVE20", "lines": []})


def test_structure_rules():
    problems = []
    for path in structure.handed_in(Path(__file__).parent):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, line, score, length in structure.functions(tree):
            if score > structure.MAX_COMPLEXITY or length > structure.MAX_LENGTH:
                problems.append(f"{path.name}:{line} {name}: complexity {score}, {length} lines")
        problems.extend(f"{path.name}: uses {name}" for name in structure.forbidden_calls(tree))
    assert not problems, "\n".join(problems)
