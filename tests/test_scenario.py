"""Scenario loading and validation: every bad input gets one line naming the field, exit status 2, nothing written."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from newretail.scenario import (
    PRESS_KEYS,
    TARGET_KEYS,
    ScenarioError,
    available_scenarios,
    load_scenario,
    scenario_text,
)

SHIPPED = "singles_day_2017"
ROOT = Path(__file__).resolve().parents[1]


def test_target_keys_are_the_contract() -> None:
    assert TARGET_KEYS == (
        "gmv_usd", "gmv_yoy_growth", "ai_banners", "ai_banner_ctr_ratio", "personalized_pages",
        "personalized_page_conversion", "chatbot_inquiries", "chatbot_share", "chatbot_efficiency_ratio",
        "hema_radius_km", "hema_delivery_minutes", "sanjiang_pilot_stores", "sanjiang_delivery_minutes",
    )  # fmt: skip
    assert set(PRESS_KEYS) == {
        "gmv_rmb", "peak_orders_per_second", "peak_payments_per_second", "payment_transactions",
        "delivery_orders", "mobile_gmv_share",
    }  # fmt: skip


def test_shipped_scenario_holds_the_reports_figures() -> None:
    t = load_scenario(SHIPPED).targets
    assert (t.gmv_usd, t.gmv_yoy_growth, t.ai_banners, t.ai_banner_ctr_ratio) == (25e9, 0.39, 4e8, 2.0)
    assert (t.personalized_pages, t.personalized_page_conversion) == (6e10, 0.20)
    assert (t.chatbot_inquiries, t.chatbot_share, t.chatbot_efficiency_ratio) == (3.5e6, 0.95, 1e4)
    assert (t.hema_radius_km, t.hema_delivery_minutes, t.sanjiang_pilot_stores, t.sanjiang_delivery_minutes) == (
        3,
        30,
        13,
        60,
    )
    assert SHIPPED in available_scenarios()


def test_loads_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(scenario_text(SHIPPED).replace('name = "singles_day_2017"', 'name = "mine"'))
    assert load_scenario(path).name == "mine"
    assert load_scenario(ROOT / "tests/scenarios/other_retailer.toml").targets.gmv_usd == 12e9


BAD_VALUES = [
    ("behaviour.banners.human_ctr", 1.5, "human_ctr = 1.5"),
    ("behaviour.banners.human_ctr", -0.1, "human_ctr = -0.1"),
    ("behaviour.chatbot.bot_resolution_rate", 2.0, "bot_resolution_rate = 2.0"),
    ("behaviour.traffic.page_dwell_s", -3.0, "page_dwell_s = -3.0"),
    ("behaviour.traffic.active_users", math.nan, "active_users = nan"),
    ("behaviour.traffic.active_users", math.inf, "active_users = inf"),
    ("targets.chatbot_share", 1.2, "chatbot_share = 1.2"),
    ("targets.gmv_usd", "lots", "gmv_usd = 'lots'"),
    ("behaviour.personalization.conversion_reading", "maybe", "conversion_reading = 'maybe'"),
]


@pytest.mark.parametrize(("field", "value", "shown"), BAD_VALUES)
def test_bad_values_name_field_and_value(field: str, value: object, shown: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(SHIPPED).with_changes({field: value})
    message = str(err.value)
    assert shown in message and "\n" not in message


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = scenario_text(SHIPPED)
    assert old in text
    path = tmp_path / "edited.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("human_ctr = 0.02", "human_ctr = 0.02\nhuman_cRt = 0.3", "human_cRt: unknown key"),
        ("gmv_usd = 25.0e9", "", "targets.gmv_usd: required key is missing"),
        ("gmv_usd = 25.0e9", "gmv_usd = 25.0e9 = 3", "not valid TOML"),
        ("human_ctr = 0.02", "human_ctr = nan", "human_ctr = nan"),
        ("hema_stores = 4", "hema_stores = -4", "hema_stores = -4"),
    ],
)
def test_bad_files_give_one_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected.replace(".", r"\.")):
        load_scenario(_edited(tmp_path, old, new))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("gmv_usd = 25.0e9", 'gmv_usd = "25e9"', "targets.gmv_usd = '25e9': input should be a valid number"),
        ("human_ctr = 0.02", 'human_ctr = "0.02"', "human_ctr = '0.02': input should be a valid number"),
        ("hema_stores = 4", 'hema_stores = "4"', "hema_stores = '4': input should be a valid integer"),
        ("hema_stores = 4", "hema_stores = 4.5", "hema_stores = 4.5: input should be a valid integer"),
        ("human_ctr = 0.02", "human_ctr = true", "human_ctr = True: input should be a valid number"),
    ],
)
def test_a_string_or_bool_where_a_number_belongs_is_refused_by_name(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """Numbers are strict: a quoted number is not converted (the issue found gmv_usd = "25e9" accepted)."""
    with pytest.raises(ScenarioError) as err:
        load_scenario(_edited(tmp_path, old, new))
    assert expected in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_whole_number_where_a_share_or_amount_belongs_is_a_number(tmp_path: Path) -> None:
    assert load_scenario(_edited(tmp_path, "gmv_usd = 25.0e9", "gmv_usd = 25000000000")).targets.gmv_usd == 25e9


def test_unknown_scenario_name() -> None:
    with pytest.raises(ScenarioError, match="not a shipped scenario"):
        load_scenario("singles_day_2099")


def test_cli_rejects_bad_scenario_with_status_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = _edited(tmp_path, "chatbot_share = 0.95", "chatbot_share = 1.7")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "newretail.cli",
            "generate",
            "--scenario",
            str(bad),
            "--scale",
            "1e-6",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "targets.chatbot_share = 1.7" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--scale", "0"], "scale = 0.0"),
        (["--scale", "1.5"], "scale = 1.5"),
        (["--scale", "nan"], "scale = nan"),
        (["--seed", "-1"], "seed = -1"),
        (["--workers", "0"], "workers = 0"),
    ],
)
def test_cli_rejects_bad_arguments(tmp_path: Path, args: list[str], expected: str) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "newretail.cli", "generate", "--out", str(out), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert not (out / "manifest.json").exists()


def test_scenario_show_prints_the_toml() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "newretail.cli", "scenario", "show", SHIPPED],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == scenario_text(SHIPPED)
