"""Command line: ``python -m autograder release [--check]``."""
import argparse
import sys

from autograder import release


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="regenerate UNet_Assignment.ipynb from solutions/")
    release_parser.add_argument("--check", action="store_true",
                                help="write nothing; exit 1 if the source's inlined cells or the release are stale")
    args = parser.parse_args(argv)
    stale = release.release(check=args.check)
    if args.check:
        for item in stale:
            print(f"stale: {item} (run `python -m autograder release`)")
        return 1 if stale else 0
    print("\n".join(f"updated {item}" for item in stale) or "release is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
