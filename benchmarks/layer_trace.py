"""What recording a part's layers costs the grader's checks: the kernel side of every part check, run on the
reference solution with and without ``trace.layer_trace`` (the forward hooks whose fingerprints say where a
wrong part goes wrong), alternating, in one process; plus the extra kernel code each check now executes (the
notebook's self-check module, for its ``layer_trace``).

    .venv/bin/python -m benchmarks.layer_trace [--rounds 5]

Prints seconds per round of all part checks, each way, and the ratio. Other load on the machine slows both
ways alike; the ratio is what to read.
"""

import argparse
import time

import torch

from autograder import assignment
from autograder.authoring import checks
from autograder.judging import verdicts
from lesson.trace import layer_trace


def one_round(namespace: dict, trace) -> float:
    """Seconds to answer every part check once on `namespace`, with `trace` (or None)."""
    started = time.perf_counter()
    for grade_id in assignment.PART_TESTS:
        test = assignment.tests()[grade_id]
        names = list(verdicts.dependencies(grade_id))
        checks.answer(namespace, test.check, verdicts._dependency_code(names), names, test.kind == "shape", trace)
        if trace is not None:  # the kernel executes the self-check module to get it
            exec(verdicts._tracer_source(), {"__name__": "unet_grader_trace"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    torch.set_num_threads(1)
    namespace = dict(vars(verdicts._reference()))
    one_round(namespace, None)  # warm up both ways
    one_round(namespace, layer_trace)
    without, with_trace = [], []
    for _ in range(rounds):
        without.append(one_round(namespace, None))
        with_trace.append(one_round(namespace, layer_trace))
    best_without, best_with = min(without), min(with_trace)
    print(
        f"all {len(assignment.PART_TESTS)} part checks, best of {rounds} rounds: {best_without:.3f} s without the "
        f"layer trace, {best_with:.3f} s with it: {best_with / best_without:.3f}x "
        f"(+{best_with - best_without:.3f} s per submission)"
    )


if __name__ == "__main__":
    main()
