"""`python -m bench [NAME ...] [--quick] [--json] [--frames FILE [--tick T --lot L]]`: run
benchmark cases beside their baselines."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson

from bench import runner

FRAMES_HELP = """\
--frames FILE plays your own recording instead of the generated stream, with one of
feed.binance_frame, feed.okx_frame, feed.gate_frame: JSON lines, the first the venue's
snapshot (Binance: the body of GET /api/v3/depth; Gate: the body of GET
/api/v4/spot/order_book?with_id=true; OKX: the books push with "action":"snapshot"), the rest
the raw WebSocket frames in order as received (Binance: combined-stream frames). Trades and
other lines are skipped. The JSON output adds the book's final best bid and ask.
"""


def _positive_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive decimal, got {text!r}")
    return value


def _error(message: str) -> int:
    print(f"bench: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        epilog=FRAMES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", help="case names or prefixes (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer samples (about 1 s a case)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--frames",
        type=Path,
        metavar="FILE",
        help="a recorded depth stream to play (one feed.*_frame case; format below)",
    )
    parser.add_argument(
        "--tick",
        type=_positive_decimal,
        help="the recording's price tick (default: the venue's BTC/USDT tick: Binance 0.01, "
        "OKX 0.1, Gate 0.1)",
    )
    parser.add_argument(
        "--lot",
        type=_positive_decimal,
        help="its quantity step (default: the venue's BTC/USDT lot: Binance 0.00001, "
        "OKX 0.00000001, Gate 0.000001)",
    )
    args = parser.parse_args(argv)
    try:
        names = runner.select(args.names)
    except KeyError as exc:
        return _error(exc.args[0])
    if args.frames is None and (args.tick is not None or args.lot is not None):
        return _error("--tick and --lot describe a --frames file; give --frames FILE")
    takes = sorted(runner.TAKES_FRAMES)
    if args.frames is not None and (len(names) != 1 or names[0] not in takes):
        return _error(f"--frames needs exactly one of {', '.join(takes)}")
    if args.list:
        for name in names:
            print(f"{name:28} {runner.about(name)}")
        return 0
    options = runner.Options(quick=args.quick, frames=args.frames, tick=args.tick, lot=args.lot)
    try:
        results = runner.run(names, quick=args.quick, options=options)
    except runner.CaseError as exc:
        return _error(str(exc))
    if args.json:
        doc = {r.name: r.as_json() for r in results}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(runner.table(results))
        for r in results:
            if "final_book" in r.extra:
                print(_final_line(r.name, r.extra))
    return 0


def _final_line(name: str, extra: dict[str, Any]) -> str:
    f, b = extra["frames_file"], extra["final_book"]
    return (
        f"{name}: {f['path']} ({f['symbol']}, tick {f['tick']}, lot {f['lot']}): "
        f"{f['applied']} frames applied, {f['skipped']} skipped, {f['other']} other lines; "
        f"final best bid {b['best_bid']} x {b['best_bid_size']}, "
        f"best ask {b['best_ask']} x {b['best_ask_size']}"
    )


if __name__ == "__main__":
    sys.exit(main())
