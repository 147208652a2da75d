"""Alias kept for the commands that ran the former standalone "SV": `python -m bench.vouchers [--quick]`
is `python -m bench S7 [--quick]` (the voucher claim race, bench/s7.py; the whole stack is started and
stopped as for any scenario). Imports nothing of the harness before `--quick` is read."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from bench.__main__ import main as bench_main

    return bench_main(["S7", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
