"""The GPU acceptance run's record and report (see benchmarks/gpu_check.py): the steps with their seconds, the
checks that pass or fail, the goals met or not, and the short markdown written beside the JSON."""

import contextlib
import time

GOALS = {
    "speedup_vs_course": 5.0,
    "recipe_train_seconds": 20.0,
    "v_rand": 0.97,
    "pixel_accuracy": 0.93,
    "total_minutes": 8.0,
}


class Check:
    """The run's record: steps with their seconds, checks that pass or fail, goals met or not."""

    def __init__(self):
        self.steps, self.checks, self.goals = {}, {}, {}
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def step(self, name, title):
        print(f"[{len(self.steps) + 1}/5] {title} ...", flush=True)
        started = time.perf_counter()
        entry = self.steps[name] = {"title": title}
        try:
            yield entry
            entry["status"] = "ok"
        except Exception as error:  # one failed step must not hide the others
            entry["status"] = f"error: {type(error).__name__}: {error}"
            self.expect(f"{name} finished", False, entry["status"])
        entry["seconds"] = round(time.perf_counter() - started, 1)
        print(f"      {name}: {entry['status']} in {entry['seconds']} s", flush=True)

    def expect(self, name, passed, detail=""):
        self.checks[name] = {"passed": bool(passed), "detail": str(detail)}
        print(f"      {'PASS' if passed else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)

    def goal(self, name, value, target, higher_is_better=True):
        met = value is not None and (value >= target if higher_is_better else value <= target)
        self.goals[name] = {"value": value, "goal": target, "met": bool(met)}

    @property
    def passed(self):
        return all(check["passed"] for check in self.checks.values())


def record_goals(check, result):
    """The goals of the issue, met or not (reported, never failing the run)."""
    steps = result["steps"]
    check.goal("speedup_vs_course", steps["loops"].get("speedup_vs_course"), GOALS["speedup_vs_course"])
    check.goal("recipe_train_seconds", steps["recipe"].get("train_seconds"), GOALS["recipe_train_seconds"], False)
    for name in ("v_rand", "pixel_accuracy"):
        check.goal(f"held-out {name} (flips)", steps["scores"].get("flips", {}).get(name), GOALS[name])
    check.goal("total_minutes", round(result["total_seconds"] / 60, 2), GOALS["total_minutes"], False)


def summary(result):
    """The short markdown written beside the JSON."""
    recipe, loops, scores = (result["steps"].get(name, {}) for name in ("recipe", "loops", "scores"))
    lines = [
        f"# GPU check on {result['machine']['device_name']}{' (tiny)' if result['tiny'] else ''}",
        "",
        f"`{result['command']}`: {'all checks passed' if result['passed'] else 'SOME CHECKS FAILED'}, "
        f"{result['total_seconds'] / 60:.1f} minutes in all; {result['machine'].get('precision_reason')}.",
        "",
        "| step | status | seconds |",
        "|---|---|---|",
    ]
    lines += [f"| {step['title']} | {step['status']} | {step.get('seconds')} |" for step in result["steps"].values()]
    if recipe.get("train_seconds"):
        lines += [
            "",
            f"Recipe: {recipe['steps']} steps in {recipe['train_seconds']} s of training; mean loss "
            f"{recipe['first_epoch_loss']:.4f} in the first epoch, {recipe['last_epoch_loss']:.4f} in the last.",
        ]
    if loops.get("speedup_vs_course"):
        lines += [
            f"Loops side by side: course {loops['course_seconds_per_step']:.4f} s/step, project "
            f"{loops['project_seconds_per_step']:.4f} s/step, {loops['speedup_vs_course']:.2f}x "
            f"(`{loops['command']}`)."
        ]
    if scores.get("plain"):
        lines += [
            "",
            f"| held-out {scores['slices']} | pixel accuracy | Dice | V_rand | V_info |",
            "|---|---|---|---|---|",
        ]
        for name in ("plain", "flips", "all_interior"):
            lines.append(
                f"| {name} | "
                + " | ".join(f"{scores[name][key]:.4f}" for key in ("pixel_accuracy", "dice", "v_rand", "v_info"))
                + " |"
            )
    lines += ["", "| check | result |", "|---|---|"]
    lines += [
        f"| {name} | {'pass' if c['passed'] else 'FAIL'}: {c['detail'][:200]} |" for name, c in result["checks"].items()
    ]
    lines += ["", "| goal (not a check) | value | goal | met |", "|---|---|---|---|"]
    lines += [
        f"| {name} | {_figure(g['value'])} | {g['goal']:g} | {'yes' if g['met'] else 'no'} |"
        for name, g in result["goals"].items()
    ]
    return "\n".join(lines) + "\n"


def _figure(value):
    return "n/a" if value is None else f"{value:.4g}"
