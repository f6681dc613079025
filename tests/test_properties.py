"""Property-based tests (hypothesis): whatever a recipe file, a trigger param or a benchmark output
holds, the result is a valid object or our own error naming what and where; never a stray
KeyError, TypeError or a half-built result."""

import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recipebench.catalog.params import PARAM_KEYS, apply_params
from recipebench.catalog.recipe import Recipe, RecipeError, load_recipe, load_recipe_file
from recipebench.parsers.common import ParseError
from recipebench.parsers.detect import TOOLS, parse

from tests.conftest import FIXTURES, REPO

RECIPES = sorted((REPO / "include" / "recipes").glob("*.yaml"))
OUTPUTS = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".txt", ".csv"))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)


def _paths(node, prefix=()):
    """Every path into a parsed recipe (mappings and lists)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _set(data, path, value):
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@SETTINGS
@given(recipe=st.sampled_from(RECIPES), data=st.data(), value=values)
def test_any_field_any_value_is_a_recipe_or_a_named_error(tmp_path_factory, recipe, data, value):
    raw = yaml.safe_load(recipe.read_text())
    path = data.draw(st.sampled_from([p for p in _paths(raw) if p]))
    _set(raw, path, value)
    folder = tmp_path_factory.mktemp("r")
    file = folder / recipe.name
    file.write_text(yaml.safe_dump(raw))
    try:
        assert isinstance(load_recipe_file(file), Recipe)
    except RecipeError as exc:
        assert str(file) in str(exc)


@SETTINGS
@given(recipe=st.sampled_from(RECIPES), cut=st.floats(0, 1), junk=st.binary(max_size=40))
def test_a_damaged_recipe_file_is_a_recipe_or_a_named_error(tmp_path_factory, recipe, cut, junk):
    text = recipe.read_bytes()
    at = int(len(text) * cut)
    file = tmp_path_factory.mktemp("r") / recipe.name
    file.write_bytes(text[:at] + junk + text[at:])
    try:
        assert isinstance(load_recipe_file(file), Recipe)
    except RecipeError as exc:
        assert str(exc).startswith(str(file))


param_values = st.one_of(values, st.lists(st.integers(-5, 20000), max_size=20))


@SETTINGS
@given(recipe_id=st.sampled_from([p.stem for p in RECIPES]),
       params=st.dictionaries(st.one_of(st.sampled_from(PARAM_KEYS), st.text(max_size=10)), param_values, max_size=4))
def test_any_trigger_params_are_a_recipe_or_a_named_error(recipe_id, params):
    recipe = load_recipe(recipe_id)
    try:
        assert isinstance(apply_params(recipe, params), Recipe)
    except RecipeError as exc:
        assert str(exc).startswith("trigger params:")


def _finite_or_none(record):
    for key, value in record.items():
        if isinstance(value, float):
            assert math.isfinite(value), (key, value)


def _check(text, source, tool=None):
    try:
        parsed = parse(text, source, tool)
    except ParseError as exc:
        assert str(exc).startswith(source)
        return
    assert parsed.records and parsed.tool in TOOLS
    for record in parsed.records:
        _finite_or_none(record)


@pytest.mark.parametrize("fixture", OUTPUTS, ids=[str(p.relative_to(FIXTURES)) for p in OUTPUTS])
@SETTINGS
@given(data=st.data())
def test_a_damaged_output_parses_or_is_a_named_error(fixture: Path, data):
    text = fixture.read_text(errors="replace")
    how = data.draw(st.sampled_from(["cut", "insert", "replace-line", "tool"]))
    if how == "cut":
        text = text[:data.draw(st.integers(0, len(text)))]
    elif how == "insert":
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.text(max_size=30)) + text[at:]
    elif how == "replace-line":
        lines = text.splitlines() or [""]
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = data.draw(st.text(max_size=60))
        text = "\n".join(lines)
    _check(text, "out.txt", data.draw(st.sampled_from([None, *TOOLS])) if how == "tool" else None)


def _json_values(obj, data):
    """The object with one value anywhere replaced by an arbitrary JSON value."""
    paths = [p for p in _paths(obj) if p]
    if not paths:
        return obj
    _set(obj, data.draw(st.sampled_from(paths)), data.draw(values))
    return obj


JSON_OUTPUTS = [p for p in OUTPUTS if p.suffix == ".json"]


@pytest.mark.parametrize("fixture", JSON_OUTPUTS, ids=[str(p.relative_to(FIXTURES)) for p in JSON_OUTPUTS])
@SETTINGS
@given(data=st.data())
def test_any_value_anywhere_in_a_json_output_parses_or_is_a_named_error(fixture: Path, data):
    obj = _json_values(json.loads(fixture.read_text()), data)
    _check(json.dumps(obj), "out.json")


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_a_number_reads_the_same_in_english_and_decimal_comma_locales(value):
    """1,234,567.89 and 1.234.567,89 (and ungrouped 1234567,89) are one number; never 123456789."""
    from recipebench.parsers.common import number

    english = f"{value:,.2f}"
    comma = english.replace(",", "_").replace(".", ",").replace("_", ".")
    plain = f"{value:.2f}".replace(".", ",")
    assert number(english) == number(comma) == number(plain) == pytest.approx(float(value))


@given(st.sampled_from(["NaN", "Infinity", "-Infinity", "nan", "inf"]))
def test_non_finite_literals_are_never_a_number(literal):
    from recipebench.parsers.common import number

    assert number(literal) is None and number(float(literal.replace("Infinity", "inf"))) is None
