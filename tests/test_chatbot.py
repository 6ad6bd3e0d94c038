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
from conftest import SMALL_SCALE, SMALL_SEED, run_notebook, sigmas

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


# ------------------------------------------------------------------------------------------------ volume, deflection
def test_bot_share_and_count_reproduce_the_targets(small_dataset: Dataset) -> None:
    """The bot's count, all inquiries and the bot's share lie within 4.5 standard errors (read from their bootstrap
    intervals) of the targets, which calibration makes their expected values.

    False-failure rate about 2 in 10,000 per run: over seeds 0-59 at this scale z = (estimate - target) / se had
    root mean square 1.11, 1.10 and 1.18 (the intervals are a little narrow: bursts of inquiries from one shopper)
    and at most 3.3, 3.2 and 4.0 in size; the normal tails at 4.5 / rms add up to 2.3e-4. A 95% interval's
    ``covers`` fails on one seed in twenty. The bands exclude a count of contacts instead of inquiries (10% more,
    5.8 SE), a count not divided by the sampling fraction and the share per contact (0.86, 35 SE); the count bands
    (8%) do not tell the bot's count from all inquiries (5% apart): the share does (1.0 against 0.95, 19 SE).
    """
    t = small_dataset.scenario.targets
    v = chatbot.inquiry_volume(small_dataset)
    assert abs(sigmas(v.bot_inquiries, t.chatbot_inquiries)) < 4.5, v.bot_inquiries
    assert abs(sigmas(v.all_inquiries, t.chatbot_inquiries / t.chatbot_share)) < 4.5, v.all_inquiries
    assert abs(sigmas(v.bot_share, t.chatbot_share)) < 4.5, v.bot_share
    assert v.bot_share.ci_high - v.bot_share.ci_low < 0.02  # narrow enough to fail (0.013 at most over 60 seeds)
    per_day = v.per_minute["inquiries_per_min"].sum()
    assert per_day == pytest.approx(v.all_inquiries.value)
    first, rest = v.per_minute.filter(pl.col("minute") < 5), v.per_minute.filter(pl.col("minute") >= 5)
    assert first["inquiries_per_min"].sum() / 5 > 3 * rest["inquiries_per_min"].sum() / 1435  # the midnight rush


def test_deflection_definitions_against_truth(small_dataset: Dataset) -> None:
    """The definitions in their order (gaps of at least 0.065 over seeds 0-59, against a spread of 0.003), and the
    bot's resolved share within 4 standard errors of the generator's expected resolution of the bot's inquiries.

    False-failure rate about 2 in 1,000,000 per run: over seeds 0-59 z had root mean square 0.84 and never exceeded
    2.3 (the bootstrap interval is a little wide), a normal tail at 4 / 0.84. The band (0.011) excludes the share
    kept without a repeat contact (0.07 above) and the bot's resolution rate without the angry customers it
    missed. The bot's repeat-contact share is within 0.02 of (1 - resolution) x repeat propensity: over the seeds it
    sat 0.0014 above (the missed angry customers resolve less) with a spread of 0.003, so 0.02 is 6 spreads away;
    the human agents' share (0.043) is 0.065 off.
    """
    d = chatbot.deflection(small_dataset)
    share = {row["definition"]: row["share"] for row in d.table.iter_rows(named=True)}
    assert share["handled"] == pytest.approx(chatbot.inquiry_volume(small_dataset).bot_share.value)
    assert share["handled"] > share["handled_per_contact"] > share["resolved_per_contact"]
    assert share["handled"] > share["no_repeat"] > share["resolved"] > share["resolved_per_contact"]
    assert (d.table["ci_low"] < d.table["share"]).all() and (d.table["share"] < d.table["ci_high"]).all()
    # the bot's resolved share covers the generator's true expected resolution of the bot's inquiries
    truth = small_dataset.read("inquiries").join(small_dataset.read("truth_inquiries"), on="inquiry_id")
    expected = truth.filter(pl.col("handled_by") == "bot")["p_resolved"].sum() / truth.height
    assert abs(sigmas(d.share("resolved"), expected)) < 4
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
    """The text classifier against the keyword rule at matched alerts, and the cost of a missed angry customer within
    4 standard errors of its value under the scenario.

    Over seeds 0-29 of these draws every bound sat far from its measurements: held-out positives 313 (spread 27;
    200 is 4.2 spreads below), the classifier's recall lower limit 0.35 above the rule's recall (spread 0.024;
    0.1 is 10 spreads below), the p-value of the recall gain at most 2e-24, the ROC AUC 0.981 (spread 0.003);
    the cost per miss had z root mean square 0.95 and at most 2.0. False-failure rate about 4 in 100,000 per run
    (normal tails, added). The band on the cost per miss (about 0.08) excludes no cost and the bot's full
    resolution gap without the missed customers' lower resolution."""
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
    assert abs(sigmas(study.cost_per_miss, true_gap)) < 4, study.cost_per_miss


def test_keyword_gap_comes_from_anger_without_angry_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every angry customer using angry words and no calm one negating them, the rule catches far more: over
    seeds 0-29 its recall rose by 0.31 (spread 0.034, at least 0.23) and its precision by 0.053 (spread 0.007), so
    a rise of 0.15 is 4.6 spreads below (a false-failure rate of about 2 in 1,000,000 per run; the 0.2 asserted
    before was 3.1 spreads below, about 1 in 1,000). Cue shares that changed nothing would rise by 0."""
    inquiries, truth = _drawn_inquiries(20_000, seed=12)
    base = chatbot.escalation_study(inquiries, truth, seed=3).point("keyword rule")
    monkeypatch.setattr(gen, "IMPLICIT_CUE_SHARE", 0.0)
    monkeypatch.setattr(gen, "NEGATED_CUE_SHARE", 0.0)
    inquiries, truth = _drawn_inquiries(20_000, seed=12)
    explicit = chatbot.escalation_study(inquiries, truth, seed=3).point("keyword rule")
    assert explicit["recall"] > base["recall"] + 0.15
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
    # within 4 SE of the scenario's mean handling time: z had rms 1.03 and max 3.3 over seeds 0-59, a false-failure
    # rate of about 1 in 10,000; the band (about 28 s of 330) excludes the bot's 40 s and the mean of all inquiries
    assert abs(sigmas(plan.aht_s, small_dataset.scenario.behaviour.chatbot.human_handle_s)) < 4, plan.aht_s
    split = chatbot.staffing_plan(small_dataset, teams=10)
    assert (split.table["agents"] >= t["agents"]).all()  # separate queues cost agents
    with pytest.raises(ValueError, match="interval_min"):
        chatbot.staffing_plan(small_dataset, interval_min=7)


# ---------------------------------------------------------------------------------------------------- efficiency
def _efficiency(ds: Dataset, **changes: Any) -> chatbot.Efficiency:
    return chatbot.efficiency_ratios(ds, agent_cost_usd_per_hour=4.0, bot_instance_cost_usd_per_hour=1.0, **changes)


def test_efficiency_is_computed_from_data_and_the_scenario(tmp_path: Path) -> None:
    """On another scenario (other targets and handling times) every definition follows that scenario: three ratios
    within 4 standard errors of their values under the scenario.

    False-failure rate about 1 in 10,000 per run: over seeds 0-39 of this day z had root mean square 0.95, 0.93 and
    0.95 and never exceeded 2.4 (normal tails at 4 / rms, added). The bands (5.6% of each ratio) exclude reading
    resolved inquiries as all inquiries (12% apart, 8.6 SE) and leaving out the agents' occupancy (15%)."""
    sc = load_scenario(ROOT / "tests/scenarios/other_retailer.toml").with_changes(
        {"sampling.inquiry_oversample": 4000.0, "behaviour.chatbot.human_handle_s": 500.0}
    )
    ds = open_dataset(generate(sc, scale=2e-6, seed=3, out=tmp_path / "other", workers=1).parent)
    eff = _efficiency(ds)
    c, t = sc.behaviour.chatbot, sc.targets
    rows = {row["definition"]: row for row in eff.table.iter_rows(named=True)}
    assert abs(sigmas(rows["per_instance_hour"], t.chatbot_efficiency_ratio)) < 4, rows["per_instance_hour"]
    one_for_one = c.human_handle_s / (c.human_occupancy * c.bot_handle_s)
    assert abs(sigmas(rows["per_conversation"], one_for_one)) < 4, rows["per_conversation"]
    # resolved conversations per instance hour: the one-for-one truth scaled by the scenario's resolution rates
    resolved = t.chatbot_efficiency_ratio * c.bot_resolution_rate / c.human_resolution_rate
    row = rows["resolved_per_instance_hour"]
    assert abs(sigmas(row, resolved)) < 4, (row, resolved)
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
    """The notebook's numbers against the truth, false-failure rate about 4 in 10,000 per run.

    The bot's share and count within 4.5 standard errors of the targets (as in the unit test: 2e-4). Over seeds 0-39
    at this scale the efficiency ratios per instance-hour and per conversation had z root mean square 1.16 and at
    most 3.6 (4.5 SE: 1e-4 each, and the two move together); the simulated peak-hour service level sat 0.005 above
    Erlang C's with a spread of 0.009 and at most 0.034 away (0.045 is 4.5 spreads; 0.03 failed at 1 of 25 seeds);
    the cost per resolved inquiry with the fallback was 8.0 (spread 0.2) against 30. The rush drops the service
    level far below Erlang C's only when the planned peak is the midnight hour, which it was at 29 of 40 seeds (the
    others peak in the evening and the minute-by-minute case is a steady hour): asserted only then."""
    numbers = notebook_results[1]["numbers"]
    t = small_dataset.scenario.targets
    assert abs(sigmas(numbers["chatbot_bot_share"], t.chatbot_share)) < 4.5
    assert abs(sigmas(numbers["chatbot_bot_inquiries"], t.chatbot_inquiries)) < 4.5
    # the classifier catches more customers who need a person than the rule, with the same alerts
    assert (
        numbers["chatbot_escalation_recall_classifier_keyword_rate"]["ci_low"]
        > (numbers["chatbot_escalation_recall_keyword"]["value"])
    )
    # Erlang C and the simulation under its assumptions agree at the peak hour within a few points
    erlang = numbers["chatbot_peak_service_level_erlang_c"]["value"]
    simulated = numbers["chatbot_peak_service_level_simulated_erlang"]["value"]
    assert erlang >= 0.8
    assert abs(simulated - erlang) < 0.045
    peak = chatbot.staffing_plan(small_dataset, service_level=0.8, answer_s=20.0, teams=100).peak
    if peak["start_h"] == 0:  # the peak is the midnight rush
        assert numbers["chatbot_peak_service_level_simulated_observed_arrivals"]["value"] < erlang - 0.2
    # efficiency: the instance-hour reading reaches the target, one-for-one conversations come near 10
    e = small_dataset.manifest["calibration"]["expected"]
    assert abs(sigmas(numbers["chatbot_efficiency_per_instance_hour"], e["chatbot_efficiency_ratio"])) < 4.5
    c = small_dataset.scenario.behaviour.chatbot
    one_for_one = c.human_handle_s / (c.human_occupancy * c.bot_handle_s)
    assert abs(sigmas(numbers["chatbot_efficiency_per_conversation"], one_for_one)) < 4.5
    assert numbers["chatbot_efficiency_cost_per_resolved_with_fallback"]["value"] < 30
