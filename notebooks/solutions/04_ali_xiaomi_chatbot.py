"""Solutions to the exercises of notebook 04."""

import math

import polars as pl


def ex_04_1(ds):
    complaints = ds.read("inquiries").filter(pl.col("intent") == "complaint")
    return complaints.select((pl.col("handled_by") == "bot").mean()).item()


def erlang_c(agents, load):
    """Probability of waiting, from the closed form (sums of load^k / k!, in logs to stay finite)."""
    log_terms = [k * math.log(load) - math.lgamma(k + 1) for k in range(agents)]
    log_last = agents * math.log(load) - math.lgamma(agents + 1) + math.log(agents / (agents - load))
    top = max([*log_terms, log_last])
    below = sum(math.exp(v - top) for v in log_terms)
    last = math.exp(log_last - top)
    return last / (below + last)


def agents_needed(arrivals_per_hour, aht_s, level=0.8, answer_s=20.0):
    load = arrivals_per_hour * aht_s / 3600
    agents = math.floor(load) + 1
    while 1 - erlang_c(agents, load) * math.exp(-(agents - load) * answer_s / aht_s) < level:
        agents += 1
    return agents


def _peak(ds):
    human = ds.read("inquiries", weights=True).filter(pl.col("handled_by") == "human")
    per_hour = human.group_by(pl.col("ts_us") // 3_600_000_000).agg(pl.col("weight").sum())
    return per_hour["weight"].max(), human["handle_s"].mean()


def ex_04_2(ds):
    arrivals, aht = _peak(ds)
    return erlang_c(agents_needed(arrivals, aht), arrivals * aht / 3600)


def ex_04_3(ds):
    arrivals, aht = _peak(ds)
    return 20 * agents_needed(arrivals / 20, aht, level=0.9, answer_s=30.0)


def ex_04_4(ds):
    return "a"
