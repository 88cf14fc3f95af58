"""Write the example pipeline's source files: data/orders.csv and data/customers.csv.

Deterministic (seeded), stdlib only: ``python generate_data.py [--orders N]``.
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import date, timedelta
from pathlib import Path

REGIONS = ("north", "south", "east", "west")


def generate(folder: Path, orders: int = 2000, customers: int = 200, seed: int = 7) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "customers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "name", "region"])
        for i in range(1, customers + 1):
            w.writerow([i, f"Customer {i}", rng.choice(REGIONS)])
    start = date(2026, 1, 1)
    with open(folder / "orders.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "order_date", "amount"])
        for i in range(1, orders + 1):
            day = start + timedelta(days=rng.randrange(90))
            # a few refunds and bad rows for the cleaning step to drop
            amount = round(rng.uniform(-20, 500), 2)
            w.writerow([i, rng.randint(1, customers + 5), day.isoformat(), amount])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--folder", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    generate(args.folder, args.orders)
    print(f"wrote {args.folder}/orders.csv and customers.csv")
