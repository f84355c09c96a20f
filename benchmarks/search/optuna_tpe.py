"""Optuna's TPE sampler over the search benchmark's gene space, one run (one seed).

    optuna_tpe.py --space space.json --seed S --budget N --max-trials M -- <evaluator command…>

The space is the JSON benchmarks/search/gene-space.ts exports (gene -> choices), so both searches use
one definition. Each trial's point goes to the TypeScript evaluation entry (evaluate-recipe.ts --serve,
the one random search uses: compile, then quantize and evaluate the proxy) over a pipe, one JSON line
each way. The objective is Δ bits/byte versus bf16 (minimised). A point compile refuses (not servable,
or does not fit the GPU) costs no evaluation: it returns a penalty worse than any measured Δ and is
recorded as infeasible, so TPE learns to avoid it. The run ends after `budget` evaluations, or after
`max-trials` trials when feasible points are too rare. Prints one JSON document: the evaluation records
in order, and the number of refused trials.
"""

import argparse
import json
import subprocess
import sys

import optuna

# Worse than any Δ bits/byte a quantized proxy reaches (the unigram model is ~4.5 bits/byte above it).
INFEASIBLE_PENALTY = 10.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--budget", type=int, required=True)
    ap.add_argument("--max-trials", type=int, required=True)
    ap.add_argument("evaluator", nargs="+", help="the evaluation entry's command line (after --)")
    args = ap.parse_args()
    with open(args.space, encoding="utf-8") as f:
        genes = json.load(f)["genes"]

    proc = subprocess.Popen(args.evaluator, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    ready = json.loads(proc.stdout.readline())
    if not ready.get("ready"):
        raise SystemExit(f"optuna_tpe: the evaluator did not start: {ready}")

    evaluations: list[dict] = []
    refused = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal refused
        point = {g["name"]: trial.suggest_categorical(g["name"], g["choices"]) for g in genes}
        proc.stdin.write(json.dumps({"genes": point}) + "\n")
        proc.stdin.flush()
        record = json.loads(proc.stdout.readline())
        if "status" not in record:
            raise RuntimeError(f"evaluator: {record.get('error')}")
        if record["status"] in ("evaluated", "failed"):
            evaluations.append(record)
        else:
            refused += 1
        trial.set_user_attr("status", record["status"])
        feasible = record["status"] == "evaluated" and record["fits"] and record["servable"] and record["deltaBitsPerByte"] is not None
        return record["deltaBitsPerByte"] if feasible else INFEASIBLE_PENALTY

    def stop_when_spent(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if len(evaluations) >= args.budget:
            study.stop()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Defaults of TPESampler otherwise (10 random start-up trials, as Optuna ships it).
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=args.seed))
    study.optimize(objective, n_trials=args.max_trials, callbacks=[stop_when_spent])
    proc.stdin.close()
    proc.wait()
    json.dump({"evaluations": evaluations[: args.budget], "refused": refused, "trials": len(study.trials), "optuna": optuna.__version__}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
