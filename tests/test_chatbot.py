"""Ali Xiaomi (issue 5): the bot's share and count against the targets, deflection against resolution, the
escalation classifier against a keyword rule, Erlang C against simulation, and efficiency under explicit definitions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import SMALL_SCALE, SMALL_SEED, run_notebook

from newretail.analyses import chatbot
from newretail.generate import calibrate, generate
from newretail.generate import inquiries as gen
from newretail.generate.traffic import event_density
from newretail.scenario import load_scenario
from newretail.tables import Dataset, open_dataset

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "04_ali_xiaomi_chatbot"
FIGURES = (
    "chatbot_inquiries_per_minute",
    "chatbot_deflection_definitions",
    "chatbot_escalation_readers",
    "chatbot_staffing_by_hour",
    "chatbot_peak_hour_service_level",
    "chatbot_efficiency_definitions",
)


def _covers(estimate: Any, value: float) -> bool:
    return bool(estimate.ci_low <= value <= estimate.ci_high)


# ------------------------------------------------------------------------------------------------ volume, deflection
def test_bot_share_and_count_reproduce_the_targets(small_dataset: Dataset) -> None:
    t = small_dataset.scenario.targets
    v = chatbot.inquiry_volume(small_dataset)
    assert _covers(v.bot_inquiries, t.chatbot_inquiries)
    assert _covers(v.all_inquiries, t.chatbot_inquiries / t.chatbot_share)
    assert _covers(v.bot_share, t.chatbot_share)
    assert v.bot_share.ci_high - v.bot_share.ci_low < 0.02  # an interval narrow enough to be able to fail
    per_day = v.per_minute["inquiries_per_min"].sum()
    assert per_day == pytest.approx(v.all_inquiries.value)
    first, rest = v.per_minute.filter(pl.col("minute") < 5), v.per_minute.filter(pl.col("minute") >= 5)
    assert first["inquiries_per_min"].sum() / 5 > 3 * rest["inquiries_per_min"].sum() / 1435  # the midnight rush


def test_deflection_definitions_against_truth(small_dataset: Dataset) -> None:
    d = chatbot.deflection(small_dataset)
    share = {row["definition"]: row["share"] for row in d.table.iter_rows(named=True)}
    assert share["handled"] == pytest.approx(chatbot.inquiry_volume(small_dataset).bot_share.value)
    assert share["handled"] > share["handled_per_contact"] > share["resolved_per_contact"]
    assert share["handled"] > share["no_repeat"] > share["resolved"] > share["resolved_per_contact"]
    assert (d.table["ci_low"] < d.table["share"]).all() and (d.table["share"] < d.table["ci_high"]).all()
    # the bot's resolved share covers the generator's true expected resolution of the bot's inquiries
    truth = small_dataset.read("inquiries").join(small_dataset.read("truth_inquiries"), on="inquiry_id")
    expected = truth.filter(pl.col("handled_by") == "bot")["p_resolved"].sum() / truth.height
    assert _covers(d.share("resolved"), expected)
    c = small_dataset.scenario.behaviour.chatbot
    assert d.repeat_share_bot > d.repeat_share_human
    assert d.repeat_share_bot == pytest.approx((1 - c.bot_resolution_rate) * c.repeat_contact_if_unresolved, abs=0.02)
    with pytest.raises(ValueError, match="definition"):
        d.share("contained")


# ---------------------------------------------------------------------------------------------------- escalation
def _drawn_inquiries(n: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Inquiries straight from the calibrated generator (no dataset needed): many positives, quickly."""
    sc = load_scenario("singles_day_2017")
    cal = calibrate(sc)
    density = event_density(sc.behaviour.traffic, cal.shoppers.spike_height)
    tables = gen.inquiry_tables(np.random.default_rng(seed), cal.inquiries, density, partition=0, n=n, n_users=1000)
    return tables["inquiries"], tables["truth_inquiries"]


def test_classifier_beats_the_keyword_rule_on_held_out_inquiries() -> None:
    inquiries, truth = _drawn_inquiries(30_000, seed=11)
    study = chatbot.escalation_study(inquiries, truth, seed=3)
    assert study.test_positives > 200
    kw = study.point("keyword rule")
    same = study.point("classifier at the keyword's alert rate")
    assert same["alerts"] == kw["alerts"]
    assert same["recall_low"] > kw["recall"] + 0.1  # matched alert budget, clearly more customers caught
    assert study.recall_gain_p_value < 1e-6
    fewest = study.point("classifier at the keyword's recall")
    assert fewest["recall"] >= kw["recall"] and fewest["alerts"] < kw["alerts"] / 2
    bot, at_bot = study.point("bot alert flag"), study.point("classifier at the bot's alert rate")
    assert at_bot["alerts"] == bot["alerts"]
    assert study.roc_auc > 0.9
    # a miss costs resolution: angry customers kept by the bot resolve far less often than those a person takes
    c = load_scenario("singles_day_2017").behaviour.chatbot
    true_gap = c.human_resolution_rate - c.bot_resolution_rate * gen.MISSED_ANGER_RESOLUTION
    assert _covers(study.cost_per_miss, true_gap)


def test_keyword_gap_comes_from_anger_without_angry_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every angry customer using angry words and no calm one negating them, the rule catches far more."""
    inquiries, truth = _drawn_inquiries(20_000, seed=12)
    base = chatbot.escalation_study(inquiries, truth, seed=3).point("keyword rule")
    monkeypatch.setattr(gen, "IMPLICIT_CUE_SHARE", 0.0)
    monkeypatch.setattr(gen, "NEGATED_CUE_SHARE", 0.0)
    inquiries, truth = _drawn_inquiries(20_000, seed=12)
    explicit = chatbot.escalation_study(inquiries, truth, seed=3).point("keyword rule")
    assert explicit["recall"] > base["recall"] + 0.2
    assert explicit["precision"] > base["precision"]


def test_escalation_inputs_are_checked() -> None:
    inquiries, truth = _drawn_inquiries(2_000, seed=13)
    with pytest.raises(ValueError, match="test_size"):
        chatbot.escalation_study(inquiries, truth, test_size=1.5)
    with pytest.raises(ValueError, match="missing columns"):
        chatbot.escalation_study(inquiries.drop("text"), truth)
    with pytest.raises(ValueError, match="at least 20"):
        chatbot.escalation_study(inquiries, truth.with_columns(needs_escalation=pl.lit(False)))
    with pytest.raises(ValueError, match="fit"):
        chatbot.KeywordEscalation().predict(["hello"])
    flags = chatbot.KeywordEscalation().fit().predict(["This is UNACCEPTABLE", "an unacceptably long wait", "ok"])
    assert flags.tolist() == [True, False, False]  # whole words only


# ------------------------------------------------------------------------------------------------------ staffing
def _erlang_c_by_hand(n: int, load: float, aht: float, answer: float) -> float:
    """Textbook Erlang C with factorial sums (another code path)."""
    top = load**n / math.factorial(n) * n / (n - load)
    wait = top / (sum(load**k / math.factorial(k) for k in range(n)) + top)
    return 1.0 - wait * math.exp(-(n - load) * answer / aht)


@pytest.mark.parametrize(("rate", "aht"), [(0.05, 180.0), (0.2, 300.0), (1.0 / 6.0, 240.0)])
def test_erlang_c_matches_the_textbook_formula(rate: float, aht: float) -> None:
    agents = chatbot.erlang_c_agents(rate, aht, service_level=0.8, answer_s=20.0)
    n = int(agents)
    assert chatbot.erlang_c_service_level(n, rate, aht, answer_s=20.0) == pytest.approx(
        _erlang_c_by_hand(n, rate * aht, aht, 20.0), rel=1e-9
    )
    assert _erlang_c_by_hand(n, rate * aht, aht, 20.0) >= 0.8  # enough agents ...
    fewer = n - 1  # ... and no more, unless one fewer would be busy beyond ErlangC's default 85% occupancy cap
    assert fewer <= rate * aht or _erlang_c_by_hand(fewer, rate * aht, aht, 20.0) < 0.8 or rate * aht / fewer > 0.85
    assert chatbot.erlang_c_service_level(int(rate * aht), rate, aht) == 0.0  # no more agents than load: unstable
    assert chatbot.erlang_c_agents(0.0, aht).item() == 0
    with pytest.raises(ValueError, match="service_level"):
        chatbot.erlang_c_agents(rate, aht, service_level=80.0)
    with pytest.raises(ValueError, match="aht_s"):
        chatbot.erlang_c_service_level(3, rate, -1.0)


def test_simulated_queue_waits_by_hand() -> None:
    arrivals = np.array([0.0, 1.0, 2.0, 2.5, 10.0])
    service = np.full(5, 3.0)
    one = chatbot.simulate_queue(arrivals, service, agents=1, answer_s=1.5)
    # waits: 0, 2, 4, 6.5, 2 -> answered within 1.5 s: one of five
    assert one.service_level == pytest.approx(0.2)
    assert one.mean_wait_s == pytest.approx((0 + 2 + 4 + 6.5 + 2) / 5)
    two = chatbot.simulate_queue(arrivals, service, agents=1, answer_s=1.5, team=np.array([0, 1, 0, 1, 0]))
    # team 0 gets 0, 2, 10 (waits 0, 1, 0); team 1 gets 1, 2.5 (waits 0, 1.5)
    assert two.service_level == pytest.approx(1.0)
    with pytest.raises(ValueError, match="agents"):
        chatbot.simulate_queue(arrivals, service, agents=0)


def test_staffing_plan_follows_the_arrivals(small_dataset: Dataset) -> None:
    plan = chatbot.staffing_plan(small_dataset, teams=1)
    t = plan.table
    assert t.height == 24
    assert (t["service_level"] >= 0.8).all()
    assert (t["agents"] > t["load_erlangs"]).all()
    assert int(t["agents"].arg_max() or 0) == int(t["human_inquiries"].arg_max() or 0)
    humans = small_dataset.read("inquiries", weights=True).filter(pl.col("handled_by") == "human")
    assert t["human_inquiries"].sum() == pytest.approx(humans["weight"].sum())
    assert plan.aht_s.value == pytest.approx(humans["handle_s"].mean())
    assert _covers(plan.aht_s, small_dataset.scenario.behaviour.chatbot.human_handle_s)
    split = chatbot.staffing_plan(small_dataset, teams=10)
    assert (split.table["agents"] >= t["agents"]).all()  # separate queues cost agents
    with pytest.raises(ValueError, match="interval_min"):
        chatbot.staffing_plan(small_dataset, interval_min=7)


# ---------------------------------------------------------------------------------------------------- efficiency
def _efficiency(ds: Dataset, **changes: Any) -> chatbot.Efficiency:
    return chatbot.efficiency_ratios(ds, agent_cost_usd_per_hour=4.0, bot_instance_cost_usd_per_hour=1.0, **changes)


def test_efficiency_is_computed_from_data_and_the_scenario(tmp_path: Path) -> None:
    """On another scenario (other targets and handling times) every definition follows that scenario."""
    sc = load_scenario(ROOT / "tests/scenarios/other_retailer.toml").with_changes(
        {"sampling.inquiry_oversample": 4000.0, "behaviour.chatbot.human_handle_s": 500.0}
    )
    ds = open_dataset(generate(sc, scale=2e-6, seed=3, out=tmp_path / "other", workers=1).parent)
    eff = _efficiency(ds)
    c, t = sc.behaviour.chatbot, sc.targets
    rows = {row["definition"]: row for row in eff.table.iter_rows(named=True)}
    assert rows["per_instance_hour"]["ci_low"] <= t.chatbot_efficiency_ratio <= rows["per_instance_hour"]["ci_high"]
    one_for_one = c.human_handle_s / (c.human_occupancy * c.bot_handle_s)
    assert rows["per_conversation"]["ci_low"] <= one_for_one <= rows["per_conversation"]["ci_high"]
    # resolved conversations per instance hour: the one-for-one truth scaled by the scenario's resolution rates
    resolved = t.chatbot_efficiency_ratio * c.bot_resolution_rate / c.human_resolution_rate
    row = rows["resolved_per_instance_hour"]
    assert row["ci_low"] <= resolved <= row["ci_high"], (row, resolved)
    # an assumption passed in moves only the definitions that use it
    busier = _efficiency(ds, human_occupancy=c.human_occupancy / 2)
    assert busier.ratio("per_instance_hour") == pytest.approx(2 * eff.ratio("per_instance_hour"))
    assert busier.ratio("concurrency") == pytest.approx(eff.ratio("concurrency"))
    with pytest.raises(ValueError, match="agent_cost_usd_per_hour"):
        chatbot.efficiency_ratios(ds, agent_cost_usd_per_hour=-1.0, bot_instance_cost_usd_per_hour=1.0)


# ------------------------------------------------------------------------------------------------------ notebook
@pytest.fixture(scope="module")
def notebook_results(small_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    build = tmp_path_factory.mktemp("nb04")
    parameters = {"dataset": str(small_dataset.path), "scale": SMALL_SCALE, "seed": SMALL_SEED, "build_dir": str(build)}
    run_notebook(NOTEBOOK, parameters, build / "executed")
    return build, json.loads((build / "results" / f"{NOTEBOOK}.json").read_text())


@pytest.mark.notebook
def test_notebook_writes_its_figures(notebook_results: tuple[Path, dict[str, Any]]) -> None:
    build, results = notebook_results
    assert set(FIGURES) <= set(results["figures"])
    for name in FIGURES:
        assert (build / "figures" / f"{name}.pdf").stat().st_size > 1000
        assert (build / "figures" / f"{name}.png").stat().st_size > 1000
    assert results["dataset_sha256"] and all(k.startswith("chatbot_") for k in results["numbers"])


@pytest.mark.notebook
def test_notebook_numbers_hold(notebook_results: tuple[Path, dict[str, Any]], small_dataset: Dataset) -> None:
    numbers = notebook_results[1]["numbers"]
    t = small_dataset.scenario.targets

    def covers(name: str, value: float) -> bool:
        n = numbers[name]
        return bool(n["ci_low"] <= value <= n["ci_high"])

    assert covers("chatbot_bot_share", t.chatbot_share)
    assert covers("chatbot_bot_inquiries", t.chatbot_inquiries)
    # the classifier catches more customers who need a person than the rule, with the same alerts
    assert (
        numbers["chatbot_escalation_recall_classifier_keyword_rate"]["ci_low"]
        > (numbers["chatbot_escalation_recall_keyword"]["value"])
    )
    # Erlang C and the simulation under its assumptions agree at the peak hour within a few points
    erlang = numbers["chatbot_peak_service_level_erlang_c"]["value"]
    simulated = numbers["chatbot_peak_service_level_simulated_erlang"]["value"]
    assert erlang >= 0.8
    assert abs(simulated - erlang) < 0.03
    assert numbers["chatbot_peak_service_level_simulated_observed_arrivals"]["value"] < erlang - 0.2  # the rush
    # efficiency: the instance-hour reading reaches the target, one-for-one conversations come near 10
    e = small_dataset.manifest["calibration"]["expected"]
    assert covers("chatbot_efficiency_per_instance_hour", e["chatbot_efficiency_ratio"])
    c = small_dataset.scenario.behaviour.chatbot
    assert covers("chatbot_efficiency_per_conversation", c.human_handle_s / (c.human_occupancy * c.bot_handle_s))
    assert numbers["chatbot_efficiency_cost_per_resolved_with_fallback"]["value"] < 30
