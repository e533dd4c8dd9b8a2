"""Helpers shared by the venues' instrument loaders: exact decimal forms and error excerpts."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, localcontext

EXCERPT = 200  # characters of a venue's reply quoted in an error


def plain_decimal(value: Decimal) -> Decimal:
    """Trailing zeros dropped, never an exponent above zero ("10.00" -> 10, not 1E+1)."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return value.quantize(Decimal(1)) if exponent > 0 else value


def round_up_to_step(value: Decimal, step: Decimal) -> Decimal:
    """`value` rounded up to a multiple of `step` (exact), in plain form."""
    with localcontext() as ctx:
        ctx.prec = 60
        units = (value / step).to_integral_value(rounding=ROUND_CEILING)
        return plain_decimal(units * step)


def excerpt_text(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text[:EXCERPT]


def excerpt_repr(doc: object) -> str:
    return repr(doc)[:EXCERPT]
