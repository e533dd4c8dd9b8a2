"""`python -m bench [NAME ...] [--quick] [--json]`: run benchmark cases beside their baselines."""

from __future__ import annotations

import argparse
import sys

import orjson

from bench import runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="case names or prefixes (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer samples (about 1 s a case)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    try:
        names = runner.select(args.names)
    except KeyError as exc:
        print(f"bench: error: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.list:
        for name in names:
            print(f"{name:28} {runner.REGISTRY[name]().about}")
        return 0
    results = runner.run(names, quick=args.quick)
    if args.json:
        doc = {r.name: r.as_json() for r in results}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(runner.table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
