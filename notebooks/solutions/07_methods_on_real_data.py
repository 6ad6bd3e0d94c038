"""Solutions to the exercises of notebook 07 (the data ship inside pinned packages; ``ds`` is not read)."""

from importlib.metadata import distribution

import numpy as np
import polars as pl
from scipy import optimize


def _packaged(package, path):
    return str(distribution(package).locate_file(path))


def ex_07_1(ds):
    organ = pl.read_csv(_packaged("causaldata", "causaldata/organ_donations/organ_donation.csv"))
    organ = organ.with_columns(q=pl.col("Quarter").str.slice(2, 4) + pl.col("Quarter").str.slice(1, 1))
    before = organ.filter(pl.col("q") < "20113")
    means = before.group_by(pl.col("State") == "California", pl.col("q") >= "20112").agg(pl.col("Rate").mean())
    m = {(r[0], r[1]): r[2] for r in means.iter_rows()}
    return (m[True, True] - m[True, False]) - (m[False, True] - m[False, False])


def _prop99():
    frame = pl.read_csv(_packaged("synthdid-py", "synthdid/data/california_prop99.csv"), separator=";")
    return frame.pivot("Year", index="State", values="PacksPerCapita").sort("State")


def _weights(pre_donors, pre_target):
    """Simplex weights by NNLS with the sum-to-one constraint as a heavily weighted extra row."""
    big = 1e4
    a = np.vstack([pre_donors, np.full((1, pre_donors.shape[1]), big)])
    w, _ = optimize.nnls(a, np.append(pre_target, big), maxiter=10_000)
    return w / w.sum()


def _fit(wide, unit):
    years = np.array([int(c) for c in wide.columns[1:]])
    y = wide.drop("State").to_numpy()
    states = wide["State"].to_list()
    i, pre = states.index(unit), years < 1989
    donors = [j for j in range(len(states)) if j != i and states[j] != "California"]
    w = _weights(y[donors][:, pre].T, y[i, pre])
    return years, y[i] - w @ y[donors], dict(zip([states[j] for j in donors], w, strict=True))


def ex_07_2(ds):
    wide = _prop99()
    _, _, weights = _fit(wide, "California")
    top = max(weights, key=weights.get)
    years, gap, _ = _fit(wide.filter(pl.col("State") != top), "California")
    return float(gap[years == 2000][0])


def ex_07_3(ds):
    wide = _prop99()
    years, gap, _ = _fit(wide, "California")
    pre = years < 1989

    def mspe(g):
        return np.mean(g[pre] ** 2), np.mean(g[~pre] ** 2)

    ca_pre, ca_post = mspe(gap)
    ratios = []
    for state in wide["State"]:
        if state == "California":
            continue
        g_pre, g_post = mspe(_fit(wide, state)[1])
        if g_pre <= 5 * ca_pre:
            ratios.append(np.sqrt(g_post / g_pre))
    rank = 1 + sum(r >= np.sqrt(ca_post / ca_pre) for r in ratios)
    return rank / (len(ratios) + 1)


def ex_07_4(ds):
    return "c"


def ex_07_5(ds):
    return "b"
