"""Customer inquiries to Ali Xiaomi: short texts by intent with emotional cues, who handled them, and how they ended.

The text is written from templates; how angry the customer truly was (``anger``), whether the inquiry truly
needed a human (``needs_escalation``) and the strength and style of the emotional cue written in the text
(``cue_level``, ``cue_style``) go to ``truth_inquiries``. The bot itself only sees the text, through its
``sentiment_score``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
from scipy.special import expit, ndtr

from newretail.generate import random_effects
from newretail.generate.shoppers import _enum, _ids
from newretail.generate.traffic import sample_ts_us
from newretail.tables.categories import CUE_STYLES, HANDLERS, INTENTS

INTENT_P = np.array([0.32, 0.14, 0.12, 0.09, 0.14, 0.11, 0.08])
INTENT_ANGER = np.array([0.22, 0.28, 0.10, 0.22, 0.10, 0.15, 0.50])  # mean true anger by intent
ANGER_CONCENTRATION = 4.0
BOT_DIFFICULTY = np.array([-1.0, 0.6, -0.5, 0.0, -0.3, -1.0, 1.0])  # log-odds of transfer to a human
MISSED_ANGER_RESOLUTION = 0.3  # resolution rate of angry customers the bot kept, relative to others
SENTIMENT_NOISE = 0.12
HANDLE_LOG_SD = 0.5

OPENERS = ("", "hello, ", "hi, ", "qin, ", "dear xiaomi, ", "excuse me, ", "hello seller, ")
BODIES: dict[str, tuple[str, ...]] = {
    "delivery": (
        "where is my parcel",
        "my package still not shipped",
        "when will the courier come",
        "logistics not updated for two days",
        "can you deliver before the weekend",
    ),
    "refund": (
        "i want to return this item",
        "how do i get my money back",
        "refund not arrived yet",
        "the seller refused my return",
    ),
    "size": (
        "which size fits 165cm",
        "is this shoe size small or big",
        "can i exchange for a larger size",
        "size chart is different from label",
    ),
    "payment": (
        "payment failed but money deducted",
        "alipay shows paid twice",
        "cannot use huabei for this order",
        "how to pay in installments",
    ),
    "product": (
        "is this product original",
        "what material is this jacket",
        "does it come with warranty",
        "colour different from the picture",
    ),
    "coupon": (
        "how to use the shop coupon",
        "red packet did not apply",
        "coupon expired before midnight",
        "why discount not shown at checkout",
    ),
    "complaint": (
        "item arrived broken",
        "the seller was rude to me",
        "fake product received",
        "wrong item sent again",
    ),
}
# Emotional cues by strength (0 calm to 4 furious). From strength 2 up a customer shows anger either in so many
# words ("explicit") or without them ("implicit": repeated asking, pressure, threats, punctuation); calm customers
# sometimes use an angry word in a negation ("negated"). A word list reads the first and third kind alike.
CUES_PLAIN: tuple[tuple[str, ...], ...] = (
    ("thanks", "thank you qin", "", "have a nice day"),
    ("please check", "please help", "a bit slow", "waiting for answer"),
)
CUES_NEGATED: tuple[str, ...] = (
    "not angry, just asking",
    "no complaint, just a question",
    "nothing terrible, just checking",
    "not disappointed, only curious",
)
CUES_EXPLICIT: tuple[tuple[str, ...], ...] = (
    ("not happy", "disappointed", "this is annoying", "a bit angry now"),
    ("very angry", "this is unacceptable", "terrible service", "i am really upset"),
    (
        "worst shopping ever!!!",
        "i will complain to the platform!!!",
        "cheated, i am furious!!!",
        "absolutely unacceptable!!!",
    ),
)
CUES_IMPLICIT: tuple[tuple[str, ...], ...] = (
    ("why so long", "still waiting", "hello??", "i asked yesterday already"),
    ("third time i ask this", "nobody answers me", "still nothing after three days??", "every year the same story"),
    (
        "give me a real person right now!!!",
        "i want my money back today!!!",
        "i will post this on weibo!!!",
        "fifth time writing, answer me!!!",
    ),
)
CUE_LEVELS = len(CUES_PLAIN) + len(CUES_EXPLICIT)  # 5 strengths
CUE_NOISE = 0.12  # sd of the noise between true anger and the strength of the cue written
IMPLICIT_CUE_SHARE = 0.5  # share of cues of strength 2 and more written without angry words
NEGATED_CUE_SHARE = 0.1  # share of calm cues (strength 0-1) that negate an angry word


@dataclass(frozen=True)
class InquiryParams:
    """Internal parameters of the inquiry model, solved by calibration."""

    transfer_intercept: float  # log-odds that the bot passes a calm inquiry to a human
    escalation_threshold: float  # true anger above which a human is needed; also the bot's alert level
    bot_concurrency: float  # conversations one bot instance holds at once
    bot_handle_s: float
    human_handle_s: float
    bot_resolution_rate: float
    human_resolution_rate: float
    repeat_contact_if_unresolved: float
    transfer_sd: float = 0.0  # log-odds sd of the shopper's random effect on transfer to a human
    burst_mean: float = 1.0  # inquiries per burst of one shopper about one problem
    burst_shape: float = 1.0  # gamma shape of a burst's repeat inquiries


def draw_inquiries(
    rng: np.random.Generator, n: int, threshold: float, burst: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Intent, true anger and the bot's noisy reading of it for ``n`` inquiries.

    With ``burst`` (a burst index per row, from 0), the rows of one burst share their intent and true anger (one
    problem, written about several times); the bot's reading of each text is noisy on its own.
    """
    groups = n if burst is None or n == 0 else int(burst[-1]) + 1
    intent = rng.choice(len(INTENTS), size=groups, p=INTENT_P).astype(np.int8)
    mean = INTENT_ANGER[intent]
    anger = rng.beta(mean * ANGER_CONCENTRATION, (1.0 - mean) * ANGER_CONCENTRATION)
    if burst is not None and n:
        intent, anger = intent[burst], anger[burst]
    score = np.clip(anger + rng.normal(0.0, SENTIMENT_NOISE, size=n), 0.0, 1.0)
    return {
        "intent": intent,
        "anger": anger,
        "needs_escalation": anger > threshold,
        "sentiment_score": score,
        "escalated": score > threshold,
    }


def escalation_probabilities(threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per intent, the exact chance that the bot alerts staff (its noisy reading exceeds ``threshold``) and the
    chance that a human is truly needed (true anger exceeds it), as :func:`draw_inquiries` draws them.

    Computed once per threshold and process (seven numerical integrals; the frontier searches ask again and again).
    """
    alerted, needs = _escalation_probabilities(float(threshold))
    return alerted.copy(), needs.copy()


@lru_cache(maxsize=64)
def _escalation_probabilities(threshold: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy import integrate, stats  # here: the partition workers never need them

    a, b = INTENT_ANGER * ANGER_CONCENTRATION, (1.0 - INTENT_ANGER) * ANGER_CONCENTRATION
    needs = stats.beta.sf(threshold, a, b)
    if threshold >= 1.0:
        return np.zeros(len(INTENTS)), needs
    alerted = np.array(
        [
            integrate.quad(
                # ndtr(-z): stats.norm.sf(threshold - x, 0, SENTIMENT_NOISE) to the last bit, without its overhead
                lambda x, ai=ai, bi=bi: stats.beta.pdf(x, ai, bi) * ndtr(-((threshold - x) / SENTIMENT_NOISE)),
                0.0,
                1.0,
                limit=200,
            )[0]
            for ai, bi in zip(a, b, strict=True)
        ]
    )
    return alerted, needs


def expected_bot_share(threshold: float, transfer_intercept: float, transfer_sd: float = 0.0) -> float:
    """Exact expected share of inquiries the bot keeps (not alerted, not transferred), integrated over the
    shoppers' random effect on transfer (normal, sd ``transfer_sd`` in log-odds)."""
    alerted, _ = escalation_probabilities(threshold)
    transfer = random_effects.expit_mean(transfer_intercept + BOT_DIFFICULTY, transfer_sd)
    return float(np.sum(INTENT_P * (1.0 - alerted) * (1.0 - transfer)))


def bot_share(draws: dict[str, np.ndarray], transfer_intercept: float, shift: np.ndarray | float = 0.0) -> np.ndarray:
    """Probability that each inquiry stays with the bot (not escalated, not transferred), given the shopper's
    random effect on transfer ``shift`` (log-odds)."""
    transfer = expit(transfer_intercept + BOT_DIFFICULTY[draws["intent"]] + shift)
    return np.where(draws["escalated"], 0.0, 1.0 - transfer)


def _pick(rng: np.random.Generator, groups: list[tuple[str, ...]], which: np.ndarray) -> pl.Series:
    """For each row, a random phrase from the group it belongs to (gathered from the phrases by index)."""
    flat = pl.Series([phrase for group in groups for phrase in group], dtype=pl.String)
    sizes = np.array([len(g) for g in groups])
    offsets = np.cumsum(sizes) - sizes
    return flat.gather(offsets[which] + (rng.random(which.size) * sizes[which]).astype(np.int64))


def cue_levels(rng: np.random.Generator, anger: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strength (0 to 4) and style (index into ``CUE_STYLES``) of the emotional cue each customer writes: the
    strength follows the true anger with noise, so calm customers sometimes write angrily and back."""
    n = anger.size
    level = np.clip(np.floor((anger + rng.normal(0.0, CUE_NOISE, size=n)) * CUE_LEVELS), 0, CUE_LEVELS - 1)
    level = level.astype(np.int8)
    calm = level < len(CUES_PLAIN)
    u = rng.random(n)
    style = np.where(
        calm,
        np.where(u < NEGATED_CUE_SHARE, 3, 0),
        np.where(u < IMPLICIT_CUE_SHARE, 2, 1),
    ).astype(np.int8)
    return level, style


def inquiry_text(rng: np.random.Generator, intent: np.ndarray, level: np.ndarray, style: np.ndarray) -> pl.Series:
    """Short inquiry texts: an opener, a body for the intent, maybe an order number, and an emotional cue of the
    given strength and style (see :func:`cue_levels`)."""
    n = intent.size
    opener = pl.Series(OPENERS, dtype=pl.String).gather(rng.integers(0, len(OPENERS), size=n))
    body = _pick(rng, [BODIES[k] for k in INTENTS], intent)
    calm = len(CUES_PLAIN)
    groups = [*CUES_PLAIN, CUES_NEGATED, *CUES_EXPLICIT, *CUES_IMPLICIT]
    # group index: plain 0-1, negated 2, explicit 3-5, implicit 6-8
    strong = np.maximum(level - calm, 0)
    group = np.select(
        [style == 0, style == 3, style == 1],
        [level, calm, calm + 1 + strong],
        default=calm + 1 + len(CUES_EXPLICIT) + strong,
    )
    cue = _pick(rng, groups, group.astype(np.int64))
    order_no = rng.integers(10**11, 10**12, size=n)
    with_order = rng.random(n) < 0.4
    frame = pl.DataFrame({"opener": opener, "body": body, "order_no": order_no, "with_order": with_order, "cue": cue})
    order = pl.when("with_order").then(pl.lit(", order ") + pl.col("order_no").cast(pl.String)).otherwise(pl.lit(""))
    return frame.select(
        pl.concat_str(["opener", "body", order, pl.lit(". "), "cue"]).str.strip_chars().alias("text")
    ).to_series()


def _lognormal(rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
    return mean * np.exp(HANDLE_LOG_SD * rng.standard_normal(n) - HANDLE_LOG_SD**2 / 2)


def inquiry_tables(
    rng: np.random.Generator,
    p: InquiryParams,
    density: np.ndarray,
    *,
    partition: int,
    n: int | None = None,
    n_users: int,
    seed: int = 0,
    expected: float | None = None,
) -> dict[str, pl.DataFrame]:
    """Inquiries with text, routing and outcome, and their ground truth: exactly ``n``, or a compound Poisson
    number of mean ``expected`` (bursts arriving as a Poisson process: over-dispersed arrivals).

    Inquiries come in bursts from one shopper about one problem (shared intent and anger); the bot's chance of
    passing an inquiry to a human carries the shopper's random effect (fixed by ``seed`` and the user id).
    """
    shopper, burst = random_effects.burst_shoppers(rng, n_users, p.burst_mean, p.burst_shape, n=n, expected=expected)
    user_id = shopper[burst]
    n = user_id.size
    draws = draw_inquiries(rng, n, p.escalation_threshold, burst)
    level, style = cue_levels(rng, draws["anger"])
    # the shopper's effect, drawn once per burst and gathered to its inquiries
    shift = (p.transfer_sd * random_effects.entity_normal(seed, random_effects.SHOPPER_TRANSFER, shopper))[burst]
    stays = rng.random(n) < bot_share(draws, p.transfer_intercept, shift)
    resolve_rate = np.where(
        stays,
        np.where(draws["needs_escalation"], p.bot_resolution_rate * MISSED_ANGER_RESOLUTION, p.bot_resolution_rate),
        p.human_resolution_rate,
    )
    resolved = rng.random(n) < resolve_rate
    repeat = ~resolved & (rng.random(n) < p.repeat_contact_if_unresolved)
    handle_s = np.where(stays, _lognormal(rng, p.bot_handle_s, n), _lognormal(rng, p.human_handle_s, n))
    concurrent = np.where(stays, rng.poisson(p.bot_concurrency, size=n), 1).astype(np.int32)
    inquiry_id = _ids(6, partition, n)
    inquiries = pl.DataFrame(
        {
            "inquiry_id": inquiry_id,
            "user_id": user_id,
            "ts_us": sample_ts_us(rng, density, n),
            "intent": _enum(draws["intent"], INTENTS),
            "text": inquiry_text(rng, draws["intent"], level, style),
            "sentiment_score": np.round(draws["sentiment_score"], 4),
            "handled_by": _enum(np.where(stays, 0, 1), HANDLERS),
            "escalated": draws["escalated"],
            "resolved": resolved,
            "repeat_contact": repeat,
            "handle_s": np.round(handle_s, 2),
            "concurrent_sessions": concurrent,
        }
    )
    truth = pl.DataFrame(
        {
            "inquiry_id": inquiry_id,
            "anger": draws["anger"],
            "needs_escalation": draws["needs_escalation"],
            "p_resolved": resolve_rate,
            "cue_level": level,
            "cue_style": _enum(style, CUE_STYLES),
        }
    )
    return {"inquiries": inquiries, "truth_inquiries": truth}
