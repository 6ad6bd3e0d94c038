"""Model fitting and SHAP at the default paper scale (1e-4): the personalization analyses' heavy steps, timed.

One process (one thread for numpy and polars) generates or opens the paper-scale dataset, then times: building the
visit frame, the LightGBM conversion model with held-out AUC (``num_threads`` 1, then 2), SHAP values for 2,000
visits, and the cross-fitted uplift learners with AIPW averages. The ratio of the two-thread to the one-thread fit
shows what a second core buys on this machine (see STACK.md on LightGBM threads).

    python benchmarks/models.py [--scale 1e-4] [--seed 20171111] [--dataset DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from common import ONE_THREAD, PYTHON, checked, measure, table, write_result

STEPS = """
import json, resource, sys, time
from newretail.analyses import personalization as P
from newretail.tables import open_dataset
from newretail.generate import generate

def cpu():  # this process and its finished children (generate's worker processes)
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(r.ru_utime + r.ru_stime for r in usage)

if __name__ == "__main__":
    folder, scale, seed, existing = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    steps = {}
    def timed(name, fn):
        c, w = cpu(), time.perf_counter()
        out = fn()
        steps[name] = {"wall_s": time.perf_counter() - w, "cpu_s": cpu() - c}
        return out
    if not existing:
        timed("generate (2 workers)",
              lambda: generate("singles_day_2017", scale=scale, seed=seed, out=folder, workers=2))
    ds = open_dataset(folder)
    frame = timed("visit frame", lambda: P.visit_frame(ds))
    fit1 = timed("conversion model, LightGBM 1 thread", lambda: P.fit_conversion(frame, seed=seed,
                 model=P.ConversionModel(num_threads=1, random_state=seed)))
    fit2 = timed("conversion model, LightGBM 2 threads", lambda: P.fit_conversion(frame, seed=seed,
                 model=P.ConversionModel(num_threads=2, random_state=seed)))
    shap = timed("SHAP values, 2,000 visits", lambda: P.explain(fit1.model, frame, rows=2000, seed=seed))
    up = timed("uplift: cross-fitted T/X-learners + AIPW", lambda: P.uplift_analysis(frame, num_threads=1, seed=seed))
    print(json.dumps({"steps": steps, "visits": frame.height, "n_train": fit1.n_train, "auc": fit1.auc,
                      "auc_2_threads": fit2.auc, "shap_vs_lightgbm": shap.lightgbm_difference,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=20171111)
    parser.add_argument("--dataset", type=Path, default=None, help="an existing dataset to use instead of generating")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newretail-bench-"))
    folder = args.dataset or work / "ds"
    env = {k: v for k, v in ONE_THREAD.items() if k not in ("OMP_NUM_THREADS",)}  # LightGBM threads set explicitly
    try:
        run = checked(
            measure(
                [PYTHON, "-c", STEPS, str(folder), str(args.scale), str(args.seed), "1" if args.dataset else "0"],
                env=env,
            ),
            "models",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    steps = result["steps"]
    one = steps["conversion model, LightGBM 1 thread"]["wall_s"]
    rows = [[name, s["wall_s"], s["cpu_s"], s["wall_s"] / one] for name, s in steps.items()]
    text = table(["step", "wall s", "CPU s", "wall relative to the 1-thread fit"], rows)
    two = steps["conversion model, LightGBM 2 threads"]["wall_s"]
    text += (
        f"\n\nScale {args.scale:g}: {result['visits']:,} visits, the model trains on {result['n_train']:,} of them "
        f"(held-out AUC {result['auc']:.3f}). Two LightGBM threads take {two / one:.2f}x the wall time of one. SHAP "
        f"values agree with LightGBM's own contributions to {result['shap_vs_lightgbm']:.1e}. Peak memory "
        f"{result['peak_rss_mib']:,.0f} MiB."
    )
    write_result("models", title="Model fitting and SHAP at the paper scale", text=text, data={**result, "run": run})


if __name__ == "__main__":
    main()
