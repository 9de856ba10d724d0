"""The formula parser of case files: values in SI, dimensions, bounded cost, errors naming the
token; never Python's eval."""

from __future__ import annotations

import pytest

from twinkit.case import dimensions as dims
from twinkit.case import expressions as ex


def value(text: str, **names: float) -> float:
    return float(ex.evaluate(ex.parse(text), ex.resolver(names)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("-2**2", -4.0),  # ** binds tighter than unary minus, as in Python
        ("2^-1", 0.5),
        ("2 ** 3 ** 2", 512.0),  # right-associative
        ("5 W/(m^2*K) * 2", 10.0),
        ("3 mm + 1 m", 1.003),
        ("20 degC + 5 K", 298.15),
        ("sqrt(16) + abs(-1) + min(3, 1, 2) + max(1, 2)", 8.0),
        ("exp(log(2)) + sin(pi / 2) + cos(0)", 4.0),
        ("a / (b - c)", 2.0),
    ],
)
def test_values_are_si(text, expected):
    assert value(text, a=4.0, b=3.0, c=1.0) == pytest.approx(expected)


def test_time_profile():
    """The issue's example: pint's rule for an offset unit in a product (100 degC → 373.15 K)."""
    f = ex.parse("20 degC + 80 K * sin(pi * t / (40 s))")
    assert ex.evaluate(f, ex.resolver({"t": 20.0})) == pytest.approx(373.15)
    assert dims.si_unit_of(dims.dimension(f, {"t": "s"})) == "K"


@pytest.mark.parametrize(
    ("text", "known", "unit"),
    [
        ("s / (F / (w * t))", {"s": "Pa", "F": "N", "w": "m", "t": "m"}, "1"),
        ("F / w", {"F": "N", "w": "m"}, "N/m"),
        ("sqrt(A)", {"A": "m^2"}, "m"),
        ("q * 2 m", {"q": "W/m^3"}, "W/m^2"),
    ],
)
def test_dimensions(text, known, unit):
    assert dims.si_unit_of(dims.dimension(ex.parse(text), known)) == unit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a + ", "at the end"),
        ("a ++* b", "'*' at position 5"),
        ("(a + b", "expected ')'"),
        ("a b", "expected an operator at 'b'"),  # a name after a name
        ("2 ** 11", "±10"),
        ("a ** b", "constant number"),
        ("open('x')", "unexpected ''' at position 6"),
        ("open(1)", "unknown function"),
        ("a.b", "unexpected '.'"),
        ("x" * 201, "at most 200"),
        ("(" * 40 + "1" + ")" * 40, "nested over 32"),
        ("", "empty"),
    ],
)
def test_errors_name_the_token(text, message):
    with pytest.raises(ex.ExpressionError) as e:
        tree = ex.parse(text)
        dims.dimension(tree, {"a": "m", "b": "m"})
    assert message in str(e.value)


def test_dimension_errors():
    with pytest.raises(ex.ExpressionError, match="dimensions must agree"):
        dims.dimension(ex.parse("a + 1 s"), {"a": "m"})
    with pytest.raises(ex.ExpressionError, match="did you mean 'width'"):
        dims.dimension(ex.parse("widht * 2"), {"width": "m"})
    assert dims.dimension(ex.parse("a + b"), {"a": "m", "b": None}) is None  # unknown: unchecked


def test_division_by_zero_is_an_arithmetic_error():
    """(an expression QoI then reads NaN, and the solve is reported as not finite)"""
    with pytest.raises(ZeroDivisionError):
        value("1 / (a - a)", a=1.0)
