"""Render images/feedback_example.png and images/summary_example.png, the report and the class view the README
shows: two catalogue submissions (two common bugs each) and the reference, graded in smoke mode, then
screenshotted by headless Chromium.

    UNET_DATA_DIR=... .venv/bin/python scripts/feedback_example.py [--out images]
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.browser import screenshot  # noqa: E402
from tests.catalogue import CATALOGUE, write  # noqa: E402

SHOWN = "avgpool+nearest_upsample+tags_raises_exception+duplicated_tests"
BATCH = ("reference", SHOWN, "padding_1+swapped_concat+edited_tests+tags_skip_execution")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, default=REPO_ROOT / "images")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="unet-example-") as work:
        work = pathlib.Path(work)
        students = {variant.name: write(variant, work / "in") for variant in CATALOGUE if variant.name in BATCH}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "autograder",
                "grade",
                str(work / "in"),
                "--out",
                str(work / "out"),
                "--mode",
                "smoke",
                "--workers",
                "2",
            ],
            check=True,
            cwd=REPO_ROOT,
        )
        report = work / "out" / "feedback" / f"{students[SHOWN]}.html"
        print(screenshot(report, args.out / "feedback_example.png", height=1300))
        print(screenshot(work / "out" / "summary.html", args.out / "summary_example.png", width=1300, height=800))
    return 0


if __name__ == "__main__":
    sys.exit(main())
