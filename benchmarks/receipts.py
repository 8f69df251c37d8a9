"""Receipt rendering throughput and memory, per worker process.

    .venv/bin/python benchmarks/receipts.py [--renders 40]

Times WeasyPrint rendering of a realistic receipt (20 lines) and, in the same process, a baseline:
a one-line PDF through the same WeasyPrint pipeline. The ratio says how much of a receipt's cost is
its own layout rather than WeasyPrint's fixed per-document cost. Memory: peak Python allocations of
one render (tracemalloc) and resident-set growth over the whole run (a leak would show here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weasyprint import HTML

from workers.receipts.render import ReceiptData, ReceiptLine, render_pdf


def receipt(lines: int) -> ReceiptData:
    return ReceiptData(
        marketplace="Marketplace", number="MKT-000123", issued_at=dt.datetime(2026, 12, 4, 16, 0),
        buyer_name="Ada Lovelace", buyer_email="ada@example.com", seller_names=["Charles Babbage"],
        lines=[ReceiptLine(f"Item number {i} with a longer name", "₦1,234.56", i % 5 + 1, "₦6,172.80")
               for i in range(lines)],
        fee="₦30.86", total="₦123,456.78", currency="NGN", payment_method="Marketplace wallet",
        transaction_id="txn_01m90w3rr3ra89w33nq7jj6n3r", reference="mkt-pur-01m90w3rr3ra89w33nq7jj6n3r",
        transaction_url="http://127.0.0.1:8000/v1/transactions/txn_01m90w3rr3ra89w33nq7jj6n3r")


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up: font loading and template compilation happen once per process
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=40)
    args = parser.parse_args()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    baseline = timed(lambda: HTML(string="<p>Receipt</p>").write_pdf(), args.renders)
    one_line = timed(lambda: render_pdf(receipt(1)), args.renders)
    twenty = timed(lambda: render_pdf(receipt(20)), args.renders)

    tracemalloc.start()
    render_pdf(receipt(20))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    base = statistics.median(baseline)
    print(f"{'document':<28}{'median ms':>10}{'per second':>12}{'x baseline':>12}")
    for name, samples in (("baseline one-line PDF", baseline), ("receipt, 1 line", one_line),
                          ("receipt, 20 lines", twenty)):
        median = statistics.median(samples)
        print(f"{name:<28}{median * 1000:>10.1f}{1 / median:>12.1f}{median / base:>12.2f}")
    print(f"peak Python memory of one 20-line render: {peak / 1024 / 1024:.1f} MiB")
    print(f"max RSS growth over {3 * (args.renders + 1) + 1} renders: {(rss_after - rss_before) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
