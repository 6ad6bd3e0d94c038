"""Reading anger in the text: which inquiries need a person?

The report says the bot "used human emotional cues through text analysis to tell staff if there is any problem".
Three readers are compared on held-out inquiries against labels of the true need for a person:

- :class:`KeywordEscalation`, a plain rule: alert when the text holds a word from an angry-word list;
- :class:`EscalationClassifier`, TF-IDF of words, word pairs and punctuation runs with a logistic regression,
  trained on labelled inquiries;
- the bot's own ``escalated`` flag (its sentiment reading passed its alert level).

The labels stand for an annotated sample (a quality team marking which customers needed a person); on synthetic
data they come from ``truth_inquiries``, so only tests and validation sections call :func:`escalation_study`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from newretail.methods.comparisons import difference_interval, mcnemar_exact
from newretail.methods.intervals import proportion_interval
from newretail.methods.resampling import CONFIDENCE, Estimate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ANGRY_WORDS", "EscalationClassifier", "EscalationStudy", "KeywordEscalation", "escalation_study"]

ANGRY_WORDS: tuple[str, ...] = (
    "angry",
    "furious",
    "unacceptable",
    "terrible",
    "horrible",
    "awful",
    "worst",
    "complain",
    "cheat",
    "cheated",
    "scam",
    "fraud",
    "fake",
    "rude",
    "hate",
    "ridiculous",
    "disgusting",
    "useless",
)
"""Strong angry words, of the kind a support team lists without looking at data."""

TOKEN_PATTERN = r"(?u)[a-z]{2,}|[!?]+"  # words of two letters or more, and runs of ! or ? (order numbers dropped)

Texts = pl.Series | Sequence[str] | np.ndarray


def _texts(texts: Texts, name: str = "texts") -> list[str]:
    values = texts.to_list() if isinstance(texts, pl.Series) else list(texts)
    if not all(isinstance(t, str) for t in values):
        raise ValueError(f"{name}: must be strings (the inquiries' text column)")
    return values


def _labels(y: Any, n: int) -> np.ndarray:
    labels = np.asarray(y.to_numpy() if isinstance(y, pl.Series) else y)
    if labels.shape != (n,):
        raise ValueError(f"y: must hold one label per text ({n}), got shape {labels.shape}")
    if labels.dtype != bool and not np.isin(labels, (0, 1)).all():
        raise ValueError("y: must be booleans or 0/1 (does the inquiry need a person?)")
    return labels.astype(bool)


class KeywordEscalation:
    """Alert when the text contains one of ``words`` (whole words, case-insensitive).

    Parameters
    ----------
    words : the angry-word list; default :data:`ANGRY_WORDS`.
    """

    def __init__(self, *, words: Sequence[str] = ANGRY_WORDS) -> None:
        self.words = words

    def fit(self, texts: Texts | None = None, y: Any = None) -> KeywordEscalation:
        """Compile the rule (nothing is learned); returns self."""
        words = list(self.words)
        if not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise ValueError("words: must be a non-empty list of non-empty strings")
        self.pattern_ = r"(?i)\b(?:" + "|".join(_escape(w.strip()) for w in words) + r")\b"
        return self

    def predict(self, texts: Texts) -> np.ndarray:
        """Boolean alert per text."""
        if not hasattr(self, "pattern_"):
            raise ValueError("KeywordEscalation: call fit() before predict()")
        series = pl.Series("text", _texts(texts), dtype=pl.String)
        return series.str.contains(self.pattern_).to_numpy().astype(bool)


def _escape(word: str) -> str:
    import re

    return re.escape(word)


class EscalationClassifier:
    """TF-IDF (words, word pairs, runs of ``!``/``?``) and an L2 logistic regression: probability that an
    inquiry needs a person.

    Parameters
    ----------
    ngram_range : smallest and largest n-gram of tokens.
    min_df : drop tokens seen in fewer inquiries than this.
    C : inverse regularisation strength of the logistic regression.
    class_weight : ``None`` or ``"balanced"`` (reweight the rare positive class).
    max_iter : iterations of the solver.
    """

    def __init__(
        self,
        *,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 3,
        C: float = 4.0,
        class_weight: str | None = None,
        max_iter: int = 2000,
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters (scikit-learn convention)."""
        keys = ("ngram_range", "min_df", "C", "class_weight", "max_iter")
        return {k: getattr(self, k) for k in keys}

    def fit(self, texts: Texts, y: Any) -> EscalationClassifier:
        """Learn the vocabulary and the weights from labelled texts; returns self."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ValueError(f"C = {self.C!r}: must be a positive number")
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight = {self.class_weight!r}: must be None or 'balanced'")
        docs = _texts(texts)
        labels = _labels(y, len(docs))
        if labels.all() or not labels.any():
            raise ValueError("y: needs both inquiries that need a person and inquiries that do not")
        self.vectorizer_ = TfidfVectorizer(
            token_pattern=TOKEN_PATTERN, ngram_range=self.ngram_range, min_df=self.min_df, sublinear_tf=True
        )
        features = self.vectorizer_.fit_transform(docs)
        self.model_ = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)
        self.model_.fit(features, labels)
        self.classes_ = np.array([False, True])
        return self

    def _check(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError("EscalationClassifier: call fit() before predicting")

    def predict_proba(self, texts: Texts) -> np.ndarray:
        """Probabilities of (no need, need) per text, shape (n, 2)."""
        self._check()
        return np.asarray(self.model_.predict_proba(self.vectorizer_.transform(_texts(texts))))

    def decision_function(self, texts: Texts) -> np.ndarray:
        """Log-odds that each text needs a person."""
        self._check()
        return np.asarray(self.model_.decision_function(self.vectorizer_.transform(_texts(texts))))

    def predict(self, texts: Texts) -> np.ndarray:
        """Boolean alert per text at probability 0.5."""
        return self.predict_proba(texts)[:, 1] >= 0.5

    def top_terms(self, n: int = 10) -> pl.DataFrame:
        """The ``n`` tokens pushing hardest towards and against an alert: ``term``, ``weight`` (log-odds)."""
        self._check()
        terms = np.asarray(self.vectorizer_.get_feature_names_out())
        coef = self.model_.coef_[0]
        order = np.argsort(coef)
        pick = np.concatenate([order[:n], order[-n:]])
        return pl.DataFrame({"term": terms[pick], "weight": coef[pick]}).sort("weight")


@dataclass(frozen=True)
class EscalationStudy:
    """Held-out comparison of escalation readers against the labelled need for a person.

    ``operating_points``: one row per reader and operating point with ``reader``, ``alerts``, ``alert_rate``,
    ``precision`` and ``recall`` (each with 95% Wilson ``*_low``/``*_high``), ``missed`` (held-out customers who
    needed a person and got no alert), ``missed_per_day`` and ``unresolved_per_day`` (full-scale customers missed,
    and of those left unresolved because of the miss). ``pr_curve``: the classifier's ``precision``, ``recall``,
    ``threshold``. ``cost_per_miss``: how much more likely an angry customer ends unresolved when the bot keeps
    them than when a person takes over (difference of resolution rates, with its 95% interval).
    """

    operating_points: pl.DataFrame
    pr_curve: pl.DataFrame
    average_precision: float
    roc_auc: float
    recall_gain_p_value: float
    cost_per_miss: Estimate
    needs_per_day: float
    test_rows: int
    test_positives: int
    top_terms: pl.DataFrame

    def point(self, reader: str) -> dict[str, Any]:
        """One operating point as a dict (keys as in ``operating_points``)."""
        rows = self.operating_points.filter(pl.col("reader") == reader)
        if rows.height == 0:
            raise ValueError(f"reader = {reader!r}: must be one of {', '.join(self.operating_points['reader'])}")
        return rows.row(0, named=True)

    def plot(self) -> Figure:
        """The classifier's precision-recall curve with every reader's operating point, and its strongest terms."""
        import matplotlib.pyplot as plt

        fig, (pr, terms) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
        pr.plot(self.pr_curve["recall"], self.pr_curve["precision"], color="tab:blue", label="classifier")
        markers = {
            "keyword rule": ("s", "tab:red"),
            "classifier at the keyword's alert rate": ("o", "tab:blue"),
            "classifier at the keyword's recall": ("D", "tab:blue"),
            "bot alert flag": ("^", "tab:green"),
            "classifier at the bot's alert rate": ("v", "tab:blue"),
        }
        for row in self.operating_points.iter_rows(named=True):
            marker, colour = markers.get(row["reader"], ("x", "black"))
            pr.scatter(
                row["recall"], row["precision"], marker=marker, color=colour, s=50, zorder=3, label=row["reader"]
            )
        pr.set(xlabel="recall of customers who need a person", ylabel="precision of alerts", xlim=(0, 1.02))
        pr.set_ylim(0, 1.02)
        pr.legend(frameon=False, fontsize=7, loc="lower left")
        t = self.top_terms
        colours = np.where(t["weight"].to_numpy() > 0, "tab:red", "tab:grey")
        terms.barh(np.arange(t.height), t["weight"], color=colours)
        terms.set_yticks(np.arange(t.height), t["term"].to_list(), fontsize=7)
        terms.set(xlabel="log-odds weight", title="strongest tokens")
        fig.tight_layout()
        return fig


def _wilson(successes: int, trials: int) -> tuple[float, float, float]:
    """Share with its Wilson interval (:func:`newretail.methods.proportion_interval`); NaN without trials."""
    if trials == 0:
        return float("nan"), float("nan"), float("nan")
    share, low, high = proportion_interval(successes, trials, alpha=1.0 - CONFIDENCE)
    return float(share), float(low), float(high)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    flags = np.zeros(scores.size, dtype=bool)
    flags[np.argsort(-scores, kind="stable")[:k]] = True
    return flags


def _joined(inquiries: pl.DataFrame, labels: pl.DataFrame, test_size: float) -> tuple[pl.DataFrame, np.ndarray]:
    """The labelled inquiries (checked) and their need for a person."""
    need = {"inquiry_id", "text", "escalated", "handled_by", "resolved"}
    if missing := need - set(inquiries.columns):
        raise ValueError(f"inquiries: missing columns {', '.join(sorted(missing))}")
    if missing := {"inquiry_id", "needs_escalation"} - set(labels.columns):
        raise ValueError(f"labels: missing columns {', '.join(sorted(missing))}")
    if not (isinstance(test_size, float) and 0.0 < test_size < 1.0):
        raise ValueError(f"test_size = {test_size!r}: must be a share in (0, 1)")
    data = inquiries.join(labels.select("inquiry_id", "needs_escalation"), on="inquiry_id", how="inner")
    y = data["needs_escalation"].to_numpy().astype(bool)
    if y.sum() < 20 or (~y).sum() < 20:
        raise ValueError(
            f"labels: {int(y.sum())} inquiries need a person and {int((~y).sum())} do not; need at least 20 of each "
            "(generate at a larger scale or raise sampling.inquiry_oversample)"
        )
    return data, y


def _cost_per_miss(data: pl.DataFrame) -> Estimate:
    """What a miss costs: resolution of customers who needed a person, taken by a person minus kept by the bot
    (Newcomb's interval of the difference, :func:`newretail.methods.comparisons.difference_interval`)."""
    angry = data.filter(pl.col("needs_escalation"))
    by_human = angry.filter(pl.col("handled_by") == "human")["resolved"]
    by_bot = angry.filter(pl.col("handled_by") == "bot")["resolved"]
    if not (by_human.len() and by_bot.len()):
        return Estimate(float("nan"), float("nan"), float("nan"))
    diff, low, high = difference_interval(int(by_human.sum()), by_human.len(), int(by_bot.sum()), by_bot.len())
    return Estimate(diff, low, high)


def _operating_points(
    readers: dict[str, np.ndarray], y_test: np.ndarray, needs_per_day: float, cost: Estimate
) -> pl.DataFrame:
    """One row per reader: alerts, precision and recall with Wilson intervals, and the customers missed."""
    rows = []
    positives = int(y_test.sum())
    for name, flags in readers.items():
        hits = int((flags & y_test).sum())
        prec = _wilson(hits, int(flags.sum()))
        rec = _wilson(hits, positives)
        missed_per_day = needs_per_day * (1.0 - rec[0])
        rows.append(
            {
                "reader": name,
                "alerts": int(flags.sum()),
                "alert_rate": float(flags.mean()),
                "precision": prec[0],
                "precision_low": prec[1],
                "precision_high": prec[2],
                "recall": rec[0],
                "recall_low": rec[1],
                "recall_high": rec[2],
                "missed": positives - hits,
                "missed_per_day": missed_per_day,
                "unresolved_per_day": missed_per_day * cost.value,
            }
        )
    return pl.DataFrame(rows)


def escalation_study(
    inquiries: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    test_size: float = 0.5,
    seed: int = 0,
    classifier: EscalationClassifier | None = None,
    keyword: KeywordEscalation | None = None,
) -> EscalationStudy:
    """Train the classifier on a split of labelled inquiries and compare readers on the rest.

    Parameters
    ----------
    inquiries : rows of the ``inquiries`` table with ``inquiry_id``, ``text``, ``escalated``, ``handled_by``,
        ``resolved`` and, for full-scale counts, ``weight`` (from ``ds.scan("inquiries", weights=True)``).
    labels : ``inquiry_id`` and ``needs_escalation`` (bool) of the labelled inquiries.
    test_size : share of labelled inquiries held out, in (0, 1).
    seed : seed of the stratified split.
    classifier, keyword : readers to compare (defaults: :class:`EscalationClassifier`, :class:`KeywordEscalation`).

    The classifier is compared with the keyword rule at the rule's alert rate (the same number of alerts) and at
    its recall (the fewest alerts catching as many customers who need a person), and with the bot's flag at the
    flag's alert rate. ``recall_gain_p_value`` is McNemar's exact
    test of the classifier's and the rule's hits among held-out customers who needed a person, at equal alerts.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
    from sklearn.model_selection import train_test_split

    data, y = _joined(inquiries, labels, test_size)
    train, test = train_test_split(np.arange(data.height), test_size=test_size, stratify=y, random_state=seed)
    clf = classifier if classifier is not None else EscalationClassifier()
    kw = (keyword if keyword is not None else KeywordEscalation()).fit()
    texts = data["text"]
    clf.fit(texts[train], y[train])
    scores = clf.predict_proba(texts[test])[:, 1]
    y_test = y[test]
    kw_flags = kw.predict(texts[test])
    bot_flags = data["escalated"].to_numpy()[test].astype(bool)

    precision, recall, thresholds = precision_recall_curve(y_test, scores)
    ranked_hits = np.cumsum(y_test[np.argsort(-scores, kind="stable")])
    kw_hits = int((kw_flags & y_test).sum())
    fewest = int(np.searchsorted(ranked_hits, kw_hits)) + 1 if kw_hits else 0  # alerts to match the rule's recall
    readers = {
        "keyword rule": kw_flags,
        "classifier at the keyword's alert rate": _top_k(scores, int(kw_flags.sum())),
        "classifier at the keyword's recall": _top_k(scores, fewest),
        "bot alert flag": bot_flags,
        "classifier at the bot's alert rate": _top_k(scores, int(bot_flags.sum())),
    }
    cost = _cost_per_miss(data)
    weights = data["weight"].to_numpy() if "weight" in data.columns else np.ones(data.height)
    needs_per_day = float(weights[y].sum())
    clf_hit = readers["classifier at the keyword's alert rate"][y_test]
    kw_hit = kw_flags[y_test]
    table = [[int((clf_hit & kw_hit).sum()), int((clf_hit & ~kw_hit).sum())]]
    table.append([int((~clf_hit & kw_hit).sum()), int((~clf_hit & ~kw_hit).sum())])
    return EscalationStudy(
        operating_points=_operating_points(readers, y_test, needs_per_day, cost),
        pr_curve=pl.DataFrame(
            {"precision": precision[:-1], "recall": recall[:-1], "threshold": thresholds.astype(np.float64)}
        ),
        average_precision=float(average_precision_score(y_test, scores)),
        roc_auc=float(roc_auc_score(y_test, scores)),
        recall_gain_p_value=mcnemar_exact(table),
        cost_per_miss=cost,
        needs_per_day=needs_per_day,
        test_rows=int(test.size),
        test_positives=int(y_test.sum()),
        top_terms=clf.top_terms(8),
    )
