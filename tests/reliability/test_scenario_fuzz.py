"""Every scenario field fuzzed with bad values: one clear line naming the field, exit status 2, nothing written.

Each example is a real run of the ``newretail generate`` command (in-process, through typer's runner) on a
scenario file written with one field spoiled.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from newretail.cli import app
from newretail.scenario import load_scenario

BASE = load_scenario("singles_day_2017").model_dump(mode="python")
RUNNER = CliRunner()


def _leaves(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += _leaves(value, (*prefix, key))
        else:
            out.append((*prefix, key))
    return out


def _tables(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for key, value in tree.items():
        if isinstance(value, dict):
            out += _tables(value, (*prefix, key))
    return out


LEAVES = _leaves(BASE)
TABLES = _tables(BASE)


def _value(path: tuple[str, ...]) -> Any:
    node: Any = BASE
    for key in path:
        node = node[key]
    return node


NUMERIC = [p for p in LEAVES if isinstance(_value(p), (int, float)) and not isinstance(_value(p), bool)]
SHARES = [
    p
    for p in NUMERIC
    if p[-1].endswith(("_share", "_rate", "_prob", "_occupancy", "_conversion"))
    or p[-1] in {"chatbot_share", "anger_escalation_threshold", "pilot_selection_on_growth"}
]
POSITIVE = [
    p
    for p in NUMERIC
    if (p[0] in ("targets", "press", "sampling") and p[-1] != "gmv_yoy_growth")
    or p[-1].endswith(("_s", "_km", "_min", "_users", "_stores", "_supermarkets", "_store", "_sigma", "_multiplier"))
    or p[-1] in {"fx_rmb_per_usd", "fx_rmb_per_usd_2016", "brands", "user_activity_shape"}
]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(tree: dict[str, Any]) -> str:
    """Serialise a nested dict of scalars as TOML (tables for nested dicts)."""
    lines: list[str] = []

    def emit(node: dict[str, Any], prefix: tuple[str, ...]) -> None:
        scalars = {k: v for k, v in node.items() if not (isinstance(v, dict) and v and _is_table((*prefix, k)))}
        if prefix:
            lines.append(f"[{'.'.join(prefix)}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        lines.append("")
        for k, v in node.items():
            if k not in scalars:
                emit(v, (*prefix, k))

    emit(tree, ())
    return "\n".join(lines)


def _is_table(path: tuple[str, ...]) -> bool:
    return path in TABLES


def _spoil(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    import copy

    tree = copy.deepcopy(BASE)
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return tree


def _run(tree_or_text: dict[str, Any] | str) -> tuple[int, str, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "fuzzed.toml"
        text = tree_or_text if isinstance(tree_or_text, str) else to_toml(tree_or_text)
        scenario.write_text(text)
        out = Path(tmp) / "out"
        result = RUNNER.invoke(app, ["generate", "--scenario", str(scenario), "--scale", "1e-6", "--out", str(out)])
        return result.exit_code, result.output, out.exists()


def _assert_refused(code: int, output: str, wrote: bool, field: str) -> None:
    lines = [line for line in output.strip().splitlines() if line]
    assert code == 2, output
    assert len(lines) == 1, output
    assert field in lines[0], (field, output)
    assert not wrote


def test_the_serialiser_round_trips() -> None:
    code, output, wrote = _run(BASE | {"sampling": {**BASE["sampling"], "users_per_partition": 20000}})
    assert code == 0, output  # the serialised shipped scenario validates, calibrates and generates
    assert wrote and output.strip().startswith("wrote ")


UNIVERSALLY_BAD = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.text(alphabet="abcxyz", min_size=1, max_size=6),
    st.lists(st.integers(), min_size=1, max_size=2),
    st.just({"a": 1}),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(NUMERIC), bad=UNIVERSALLY_BAD)
def test_wrong_types_and_non_finite_values(path: tuple[str, ...], bad: Any) -> None:
    _assert_refused(*_run(_spoil(path, bad)), field=path[-1])


@settings(max_examples=30, deadline=None)
@given(path=st.sampled_from(SHARES), bad=st.one_of(st.floats(1.0001, 1e6), st.floats(-1e6, -0.0001)))
def test_shares_outside_unit_interval(path: tuple[str, ...], bad: float) -> None:
    _assert_refused(*_run(_spoil(path, bad)), field=path[-1])


@settings(max_examples=30, deadline=None)
@given(path=st.sampled_from(POSITIVE), bad=st.floats(-1e9, -1e-6))
def test_negative_rates_and_sizes(path: tuple[str, ...], bad: float) -> None:
    _assert_refused(*_run(_spoil(path, bad)), field=path[-1])


@settings(max_examples=25, deadline=None)
@given(table=st.sampled_from(TABLES), key=st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True))
def test_unknown_keys(table: tuple[str, ...], key: str) -> None:
    import copy

    tree = copy.deepcopy(BASE)
    node: Any = tree
    for k in table:
        node = node[k]
    if key in node:
        return
    node[key] = 1.0
    _assert_refused(*_run(tree), field=key)


def _required(path: tuple[str, ...]) -> bool:
    """Whether the scenario model requires this field (fields with defaults may be left out)."""
    from pydantic import BaseModel

    from newretail.scenario import Scenario

    model: type[BaseModel] = Scenario
    for key in path[:-1]:
        annotation = model.model_fields[key].annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation
    return model.model_fields[path[-1]].is_required()


@settings(max_examples=25, deadline=None)
@given(path=st.sampled_from([p for p in LEAVES if _required(p)]))
def test_missing_keys(path: tuple[str, ...]) -> None:
    import copy

    tree = copy.deepcopy(BASE)
    node = tree
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    _assert_refused(*_run(tree), field=path[-1])


@settings(max_examples=20, deadline=None)
@given(cut=st.integers(min_value=10, max_value=4000), junk=st.sampled_from(["= =", "[[", '"unclosed', "x = ", "]"]))
def test_toml_syntax_errors(cut: int, junk: str) -> None:
    text = to_toml(BASE)
    cut = min(cut, len(text))
    broken = text[:cut] + "\n" + junk + "\n" + text[cut:]
    code, output, wrote = _run(broken)
    assert code == 2 and not wrote, output
    assert len(output.strip().splitlines()) == 1
    assert "not valid TOML" in output or "unknown key" in output or "missing" in output or "=" in output
