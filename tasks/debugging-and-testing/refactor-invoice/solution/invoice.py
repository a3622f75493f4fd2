"""Invoice totals for the web shop. Finance reconciles every invoice against this code.

Refactored: one small function per rule. Every amount, rounding and quirk of the old
``compute_invoice`` is kept on purpose (tax ignores SAVE10; express is charged even on an
empty order; the shipping threshold looks at the unrounded net).
"""

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

EU = {"AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT", "SE"}
TIERS = ("standard", "gold", "staff")
COUPONS = ("SAVE10", "FREESHIP", "BULK5")
ZERO = Decimal("0")
CENT = Decimal("0.01")
REDUCED_CATEGORIES = {"book", "food"}
# region -> (flat shipping, free from this net amount; None: never free)
SHIPPING = {"DE": (Decimal("4.90"), Decimal("100")), "EU": (Decimal("9.90"), Decimal("150")),
            "WORLD": (Decimal("19.90"), None)}
SHIPPING_TAX = {"DE": Decimal("0.19"), "EU": Decimal("0.20"), "WORLD": ZERO}
EXPRESS = Decimal("15.00")


def compute_invoice(order):
    customer = order["customer"]
    coupon = order.get("coupon")
    lines = order.get("lines") or []
    region = _region(customer.get("country", "DE"))
    _validate(customer["tier"], coupon)
    if customer["tier"] == "staff":
        coupon = None  # staff prices never combine with coupons
    subtotal, discount, taxable = _price_lines(lines, customer["tier"], coupon, region)
    discount += _save10_discount(coupon, subtotal - discount)
    net = subtotal - discount
    shipping = _shipping(lines, net, coupon, region) + (EXPRESS if order.get("express") else ZERO)
    tax = _tax(taxable, shipping, region)
    return {name: str(_cents(value)) for name, value in (
        ("subtotal", subtotal), ("discount", discount), ("shipping", shipping), ("tax", tax),
        ("total", net + shipping + tax))}


def _cents(value, rounding=ROUND_HALF_UP):
    return value.quantize(CENT, rounding)


def _region(country):
    if country == "DE":
        return "DE"
    return "EU" if country in EU else "WORLD"


def _validate(tier, coupon):
    if tier not in TIERS:
        raise ValueError("unknown tier: " + str(tier))
    if coupon is not None and coupon not in COUPONS:
        raise ValueError("unknown coupon: " + str(coupon))


def _price_lines(lines, tier, coupon, region):
    """(subtotal, line discounts, {tax rate: taxable amount}) over all lines."""
    subtotal, discount, taxable = ZERO, ZERO, {}
    for line in lines:
        if line["qty"] < 0:
            raise ValueError("negative quantity for " + line["sku"])
        amount = Decimal(line["unit_price"]) * line["qty"]
        line_discount = _line_discount(line, amount, tier, coupon)
        rate = _tax_rate(region, line["category"])
        subtotal += amount
        discount += line_discount
        taxable[rate] = taxable.get(rate, ZERO) + amount - line_discount
    return subtotal, discount, taxable


def _line_discount(line, amount, tier, coupon):
    if tier == "staff":
        return _cents(amount * Decimal("0.30"))
    discount = amount * Decimal("0.10") if tier == "gold" and line["category"] != "food" else ZERO
    if coupon == "BULK5" and line["qty"] >= 10:
        discount += (amount - discount) * Decimal("0.05")
    return _cents(discount)


def _tax_rate(region, category):
    if region == "DE":
        return Decimal("0.07") if category in REDUCED_CATEGORIES else Decimal("0.19")
    return Decimal("0.20") if region == "EU" else ZERO


def _save10_discount(coupon, net):
    if coupon == "SAVE10" and net >= Decimal("50"):
        return _cents(net * Decimal("0.10"))
    return ZERO


def _shipping(lines, net, coupon, region):
    """Standard shipping, before any express charge."""
    flat, free_from = SHIPPING[region]
    if not lines or coupon == "FREESHIP":
        return ZERO
    return ZERO if free_from is not None and net >= free_from else flat


def _tax(taxable, shipping, region):
    line_tax = sum((_cents(amount * rate, ROUND_HALF_EVEN) for rate, amount in taxable.items()), ZERO)
    return line_tax + _cents(shipping * SHIPPING_TAX[region], ROUND_HALF_EVEN)
