"""Exercises of notebook 05 (Hema and the Sanjiang pilot): difference-in-differences, its failure modes, and a
staggered rollout."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from newretail.exercises._base import Exercise, Wrong

if TYPE_CHECKING:
    from newretail.analyses.stores import StaggeredRollout
    from newretail.tables import Dataset

CONTROLS = ("sanjiang", "other")
SELECTION_CHANGE = {"behaviour.stores.pilot_selection_on_growth": 1.0}
ROLLOUT_CHANGES = {
    "behaviour.stores.rollout_waves": 4,
    "behaviour.stores.rollout_days_between_waves": 14,
    "behaviour.stores.panel_days_after": 70,
    "behaviour.stores.pilot_effect_growth_per_week": 0.02,
    "behaviour.stores.rollout_effect_change_per_wave": -0.01,
}
"""Notebook 05's staggered rollout (section 6): the pilot on day 0, then three more waves of 13 Sanjiang stores two
weeks apart, each store's effect growing by 0.02 log a week, each later wave's 0.01 lower at opening."""
ROLLOUT_CONTROLS = ("sanjiang",)  # the lesson compares within the chain: its stores that never open


def _panel(ds: Dataset, outcome: str = "sales_rmb", controls: tuple[str, ...] = CONTROLS) -> pl.DataFrame:
    """Pilots and the non-pilot stores of ``controls`` types, log outcome, stores positive on every day."""
    stores = ds.read("stores").with_columns(store_type=pl.col("store_type").cast(pl.String))
    keep = stores.filter(pl.col("pilot") | pl.col("store_type").is_in(list(controls)))
    days = ds.read("store_days").join(keep.select("store_id", "pilot"), on="store_id")
    positive = days.group_by("store_id").agg(ok=(pl.col(outcome) > 0).all()).filter("ok")
    return days.join(positive.select("store_id"), on="store_id").with_columns(y=pl.col(outcome).cast(pl.Float64).log())


def _means(panel: pl.DataFrame, column: str = "y") -> dict[tuple[bool, bool], float]:
    m = panel.group_by("pilot", post=pl.col("day") >= 0).agg(pl.col(column).mean())
    return {(r["pilot"], r["post"]): r[column] for r in m.iter_rows(named=True)}


def did_2x2(ds: Dataset, outcome: str = "sales_rmb", controls: tuple[str, ...] = CONTROLS) -> float:
    """(pilots after - pilots before) - (controls after - controls before), log-outcome means; after: day >= 0."""
    get = _means(_panel(ds, outcome, controls))
    return float((get[True, True] - get[True, False]) - (get[False, True] - get[False, False]))


def did_transactions(ds: Dataset) -> float:
    return did_2x2(ds, "transactions")


def did_levels(ds: Dataset, outcome: str = "transactions") -> float:
    """The same 2x2 difference of the outcome itself, not its log."""
    get = _means(_panel(ds, outcome), outcome)
    return float((get[True, True] - get[True, False]) - (get[False, True] - get[False, False]))


def before_after(ds: Dataset, outcome: str = "transactions") -> float:
    """The pilots' own change in log outcome, with no control group."""
    get = _means(_panel(ds, outcome))
    return float(get[True, True] - get[True, False])


def did_sanjiang_controls(ds: Dataset) -> float:
    return did_2x2(ds, controls=("sanjiang",))


def true_effect(ds: Dataset) -> float:
    truth = ds.read("truth_store_days").join(ds.read("stores").select("store_id", "pilot"), on="store_id")
    return float(truth.filter(pl.col("pilot") & (pl.col("day") >= 0))["true_effect_log"].mean())  # type: ignore[arg-type]


def selection_day(ds: Dataset) -> Dataset:
    """The city of ``ds`` (same scale and seed) with pilots chosen on growth, kept in a folder beside ``ds``."""
    from newretail.notebook import variant_day

    path = ds.path.with_name(f"{ds.path.name}-pilots-on-growth")
    return variant_day(SELECTION_CHANGE, scale=ds.scale, seed=ds.seed, recalibrate=False, groups=("city",), path=path)


def selection_bias(ds: Dataset) -> float:
    """DiD minus the true effect on a city whose pilots were chosen on growth (same scale and seed)."""
    city = selection_day(ds)
    return did_2x2(city) - true_effect(city)


def rollout_day(ds: Dataset) -> Dataset:
    """The city of ``ds`` (same scale and seed) rolled out in waves (:data:`ROLLOUT_CHANGES`), beside ``ds``."""
    from newretail.notebook import variant_day

    path = ds.path.with_name(f"{ds.path.name}-rollout")
    return variant_day(ROLLOUT_CHANGES, scale=ds.scale, seed=ds.seed, groups=("city",), path=path)


def rollout(ds: Dataset, control: str = "not_yet") -> StaggeredRollout:
    """The lesson's staggered analysis of the rollout day, with ``control`` stores as the comparison group."""
    from newretail.analyses.stores import staggered_rollout

    return staggered_rollout(rollout_day(ds), controls=ROLLOUT_CONTROLS, control=control)  # type: ignore[arg-type]


EXERCISES = (
    Exercise(
        "05.1",
        "compute",
        "Another outcome: the 2x2 difference-in-differences of log *till transactions* (`store_days.transactions`): "
        "pilots after (day >= 0) minus before, minus the same for the controls (non-pilot Sanjiang and other "
        "supermarkets; no Hema stores).",
        "log transactions",
        did_transactions,
        "The same four means as the lesson's DiD by hand, of the log of transactions instead of sales; keep the "
        "stores that had transactions on every day, so that every log exists.",
        abs_tol=1e-9,
        wrong=(
            Wrong("the DiD of log sales", did_2x2, "use the transactions column, not sales."),
            Wrong(
                "the DiD of transactions, not their log",
                did_levels,
                "take the log of each store-day's transactions before the means: the effect is then relative.",
            ),
            Wrong(
                "the pilots' own before-after change",
                before_after,
                "subtract the controls' change over the same days: that removes Singles' Day itself.",
            ),
        ),
    ),
    Exercise(
        "05.2",
        "compute",
        "A subgroup of controls: the 2x2 DiD of log sales when the only controls are the Sanjiang stores outside "
        "the pilot (no other supermarkets, no Hema stores).",
        "log sales",
        did_sanjiang_controls,
        "The pilots were drawn from the Sanjiang chain; comparing them only with their own chain changes which "
        'stores stand for "what would have happened".',
        abs_tol=1e-9,
        wrong=(
            Wrong("the DiD with every control store", did_2x2, "drop the other supermarkets from the controls."),
            Wrong(
                "the DiD with the other supermarkets as controls",
                lambda ds: did_2x2(ds, controls=("other",)),
                "the controls are the Sanjiang stores outside the pilot.",
            ),
            Wrong(
                "the pilots' own before-after change",
                lambda ds: before_after(ds, "sales_rmb"),
                "subtract the controls' change over the same days.",
            ),
        ),
    ),
    Exercise(
        "05.3",
        "design",
        "Predict the DiD's bias when Sanjiang picks pilots among stores already growing, then run it: open the "
        "variant day `variant_day({'behaviour.stores.pilot_selection_on_growth': 1.0}, scale=ds.scale, "
        "seed=ds.seed, recalibrate=False, groups=('city',))` and report its 2x2 DiD of log *sales* minus its true "
        "effect.",
        "log sales",
        selection_bias,
        "Parallel trends fail there: the pilots' own growth continues after day 0 and DiD counts it as effect. Run "
        "the lesson's DiD by hand on the variant's sales and subtract the truth of the same variant.",
        abs_tol=1e-6,
        wrong=(
            Wrong(
                "the variant's DiD without subtracting the truth",
                lambda ds: did_2x2(selection_day(ds)),
                "the bias is the estimate minus the true effect of the same day.",
            ),
            Wrong(
                "the bias on the lesson's day, with random pilots",
                lambda ds: did_2x2(ds) - true_effect(ds),
                "run it on the variant day whose pilots were chosen on growth.",
            ),
            Wrong(
                "the DiD of log transactions on the variant, minus the truth",
                lambda ds: did_2x2(selection_day(ds), "transactions") - true_effect(selection_day(ds)),
                "the true effect is on log sales: use the sales column.",
            ),
        ),
    ),
    Exercise(
        "05.4",
        "explain why",
        "When the pilots are the stores whose sales were already rising fastest, DiD overstates the "
        "pilot's effect. Which reason is right?",
        "choice",
        lambda ds: "d",
        "DiD's control group answers one question: how would the pilots' sales have moved without the pilot?",
        choices=(
            "Fast-growing stores have more customers, so the pilot helps them more.",
            "The controls lose customers to the pilots.",
            "Store-clustered errors are too small with 13 pilots.",
            "Their own growth goes on after day 0; the controls did not share it, so DiD counts it as effect "
            "(parallel trends fail).",
        ),
        wrong=(
            Wrong("a", "a", "the true effect is the same for every pilot here; the bias comes from the comparison."),
            Wrong("b", "b", "that is spill-over, the other trap; this variant has none."),
            Wrong("c", "c", "that would make the interval too narrow, not move the estimate."),
        ),
    ),
    Exercise(
        "05.5",
        "compute",
        "On the rollout day of section 6, the mean of the effects by weeks since opening (the effect in week 0, 1, "
        "..., 9 after a store opened, each averaged over the waves open that long, then the ten averaged alike), "
        "by Callaway and Sant'Anna's method with the stores *not yet open* as well as those never open as the "
        "comparison group (Sanjiang stores only, as in the lesson).",
        "log sales",
        lambda ds: rollout(ds).staggered.att_dynamic_.estimate,
        "A week since opening is one number however many stores reach it: average the weekly effects, not the "
        "store-weeks. Until a store opens it is as untreated as a store that never opens, so the comparison group "
        "of a week holds both.",
        abs_tol=1e-6,
        wrong=(
            Wrong(
                "TWFE's estimate",
                lambda ds: rollout(ds).twfe.effect_,
                "TWFE's single coefficient also compares stores opening later with stores already open; use the "
                "group-time effects.",
            ),
            Wrong(
                "the same mean with only the stores that never open as the comparison",
                lambda ds: rollout(ds, "never").staggered.att_dynamic_.estimate,
                "the stores not yet open belong to the comparison group too, until they open.",
            ),
            Wrong(
                "the mean over store-weeks (the simple aggregation)",
                lambda ds: rollout(ds).staggered.att_simple_.estimate,
                "that weighs the early weeks, which every wave reaches, more; average the weekly effects alike.",
            ),
            Wrong(
                "the overall ATT (the waves' effects averaged by their size)",
                lambda ds: rollout(ds).att.estimate,
                "that averages by wave, not by weeks since opening.",
            ),
            Wrong(
                "the true mean effect by weeks since opening",
                lambda ds: rollout(ds).truth.dynamic,  # type: ignore[union-attr]
                "that is the generator's truth, which the estimate is checked against; estimate it from the sales.",
            ),
        ),
    ),
    Exercise(
        "05.6",
        "explain why",
        "On the rollout day, TWFE's estimate falls below the true average effect, and it does so even when fitted "
        "to the true effects without any noise. Which reason is right?",
        "choice",
        lambda ds: "c",
        "Ask which stores each comparison inside TWFE uses as the untreated ones, and what is happening to their "
        "sales at that time.",
        choices=(
            "Singles' Day lifts every store's sales on day 0, and the week effects cannot absorb it.",
            "The stores of the later waves were already growing more slowly than the others.",
            "TWFE also uses stores already open as controls for the stores that open later; their effect is still "
            "growing, so their rise is subtracted from the later stores' effect (a forbidden comparison, which gives "
            "some effects a negative weight).",
            "With 13 stores per wave, TWFE's store-clustered errors are too small.",
        ),
        wrong=(
            Wrong("a", "a", "every store shares the day's lift, and the week effects remove what all stores share."),
            Wrong(
                "b",
                "b",
                "the waves are chosen by distance from the city centre, not by growth: without the rollout every "
                "store would follow parallel trends here.",
            ),
            Wrong("d", "d", "that would make TWFE's interval too narrow; it would not move its estimate."),
        ),
    ),
)
