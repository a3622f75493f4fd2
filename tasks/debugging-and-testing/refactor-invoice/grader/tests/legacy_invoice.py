"""The invoice code as it was before the refactoring: the behaviour to preserve. Grader copy."""

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

EU = {"AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT", "SE"}


def compute_invoice(order):
    # written in a hurry before Black Friday 2019; extended by five people since
    customer = order["customer"]
    lines = order.get("lines") or []
    coupon = order.get("coupon")
    country = customer.get("country", "DE")
    if customer["tier"] != "standard" and customer["tier"] != "gold" and customer["tier"] != "staff":
        raise ValueError("unknown tier: " + str(customer["tier"]))
    if coupon is not None:
        if coupon != "SAVE10" and coupon != "FREESHIP" and coupon != "BULK5":
            raise ValueError("unknown coupon: " + str(coupon))
    subtotal = Decimal("0")
    discount = Decimal("0")
    taxable = {}
    for line in lines:
        if line["qty"] < 0:
            raise ValueError("negative quantity for " + line["sku"])
        amount = Decimal(line["unit_price"]) * line["qty"]
        subtotal = subtotal + amount
        line_discount = Decimal("0")
        if customer["tier"] == "staff":
            line_discount = amount * Decimal("0.30")
        else:
            if customer["tier"] == "gold":
                if line["category"] != "food":
                    line_discount = amount * Decimal("0.10")
            if coupon == "BULK5":
                if line["qty"] >= 10:
                    line_discount = line_discount + (amount - line_discount) * Decimal("0.05")
        line_discount = line_discount.quantize(Decimal("0.01"), ROUND_HALF_UP)
        discount = discount + line_discount
        if country == "DE":
            if line["category"] == "book" or line["category"] == "food":
                rate = Decimal("0.07")
            else:
                rate = Decimal("0.19")
        else:
            if country in EU:
                rate = Decimal("0.20")
            else:
                rate = Decimal("0")
        if rate in taxable:
            taxable[rate] = taxable[rate] + amount - line_discount
        else:
            taxable[rate] = amount - line_discount
    if coupon == "SAVE10" and customer["tier"] != "staff":
        if subtotal - discount >= Decimal("50"):
            # tax is computed before this discount: finance confirmed that is intended
            discount = discount + ((subtotal - discount) * Decimal("0.10")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    net = subtotal - discount
    if len(lines) == 0:
        shipping = Decimal("0")
    else:
        if country == "DE":
            if net >= Decimal("100"):
                shipping = Decimal("0")
            else:
                shipping = Decimal("4.90")
        elif country in EU:
            if net >= Decimal("150"):
                shipping = Decimal("0")
            else:
                shipping = Decimal("9.90")
        else:
            shipping = Decimal("19.90")
        if coupon == "FREESHIP" and customer["tier"] != "staff":
            shipping = Decimal("0")
    if order.get("express"):
        shipping = shipping + Decimal("15.00")
    tax = Decimal("0")
    for rate in taxable:
        tax = tax + (taxable[rate] * rate).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    if country == "DE":
        tax = tax + (shipping * Decimal("0.19")).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    else:
        if country in EU:
            tax = tax + (shipping * Decimal("0.20")).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    total = net + shipping + tax
    return {
        "subtotal": str(subtotal.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "discount": str(discount.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "shipping": str(shipping.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "tax": str(tax.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "total": str(total.quantize(Decimal("0.01"), ROUND_HALF_UP)),
    }
