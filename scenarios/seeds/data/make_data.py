"""Write the synthetic input files of the seed scenarios (run once; the outputs are committed).

    .venv/bin/python scenarios/seeds/data/make_data.py

Deterministic (seeded), so re-running it rewrites the same bytes. The scenarios never call it:
they read the committed files. Sizes: enough rows for a sampled sweep, not the full batches
(each scenario's ``items:`` holds the planned full size).

| file | rows | the seed's batch |
| --- | --- | --- |
| 000-televisions.jsonl | 201 | 201 television products (all of them) |
| 001-asins.csv | 1,000 | 1,000 products (all of them) |
| 002-prescriptions.jsonl | 2,000 | 15,000 prescription PDFs |
| 003-users.csv | 2,000 | 200,000 users (2M later) |
| 004-leads.csv | 2,000 | up to 50,000 CSV rows |
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

BRANDS = ["Samsung", "LG", "Sony", "TCL", "Hisense", "Panasonic", "Philips", "Vizio", "Sharp", "Toshiba"]
PANELS = ["OLED", "QLED", "Mini LED", "LED", "QD-OLED", "Neo QLED"]
OSES = ["Tizen", "webOS", "Google TV", "Android TV", "Roku TV", "Fire TV", "VIDAA", "SmartCast"]
HDRS = ["HDR10", "HDR10+", "Dolby Vision", "HLG", "Dolby Vision IQ", "HDR10+ Adaptive"]
SIZES = [32, 40, 43, 48, 50, 55, 58, 65, 70, 75, 77, 83, 85, 98]
COLOURS = ["Black", "Silver", "Titan Grey", "White"]


def televisions(rng: random.Random, n: int = 201) -> None:
    """Seed 000: one Shopify product per line, with its full spec text and all variants."""
    with (HERE / "000-televisions.jsonl").open("w") as f:
        for i in range(1, n + 1):
            brand = rng.choice(BRANDS)
            panel = rng.choice(PANELS)
            res = rng.choice(["4K UHD (3840 x 2160)", "4K UHD (3840 x 2160)", "8K (7680 x 4320)", "Full HD (1920 x 1080)"])
            hz = rng.choice([50, 60, 100, 120, 144, 165])
            k = rng.randint(3, 7)
            start = rng.randint(0, len(SIZES) - k)
            sizes = SIZES[start:start + k]
            colours = rng.sample(COLOURS, rng.randint(1, 2))
            year = rng.choice([2023, 2024, 2025])
            model = f"{brand[:2].upper()}{rng.randint(100, 999)}{rng.choice('ABCDEFGHJKLMN')}{year % 100}"
            specs = (
                f"{brand} {panel} television, model series {model} ({year}). Resolution {res}; native refresh rate "
                f"{hz} Hz with {rng.choice(['VRR', 'FreeSync Premium', 'G-SYNC compatible', 'ALLM'])}. HDR formats: "
                f"{', '.join(rng.sample(HDRS, 3))}. Peak brightness about {rng.randint(3, 30) * 100} nits. Processor: "
                f"{rng.choice(['Alpha 9 Gen 7', 'NQ4 AI Gen 2', 'Cognitive XR', 'AiPQ Pro', 'Hi-View Engine'])}. "
                f"Smart platform {rng.choice(OSES)} with Wi-Fi {rng.choice(['5', '6', '6E'])} and Bluetooth "
                f"{rng.choice(['5.0', '5.2', '5.3'])}. Audio {rng.choice([20, 30, 40, 60])} W "
                f"{rng.choice(['2.0', '2.1', '2.1.2', '4.2.2'])} channels, Dolby Atmos {rng.choice(['yes', 'no'])}. Ports: "
                f"{rng.randint(2, 4)} x HDMI 2.1 (eARC on HDMI 3), {rng.randint(1, 3)} x USB, optical out, Ethernet, "
                f"RF in. Energy class {rng.choice('EFG')}, typical power {rng.randint(60, 240)} W. VESA "
                f"{rng.choice(['200x200', '300x300', '400x300', '600x400'])}. Stand: "
                f"{rng.choice(['pedestal', 'feet', 'swivel'])}. Warranty {rng.choice([1, 2, 3])} years."
            )
            row = {
                "id": f"tv-{i:04d}",
                "title": f"{brand} {panel} {res.split(' (')[0]} Smart TV {model}",
                "vendor": brand,
                "price": round(rng.uniform(199, 3999), 2),
                "sizes": sizes,
                "colours": colours,
                "specs": specs,
            }
            f.write(json.dumps(row) + "\n")


def asins(rng: random.Random, n: int = 1000) -> None:
    """Seed 001: one ASIN per row (B0 + 8 characters, as Amazon's)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    seen: set[str] = set()
    with (HERE / "001-asins.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["asin"])
        while len(seen) < n:
            a = "B0" + "".join(rng.choice(alphabet) for _ in range(8))
            if a not in seen:
                seen.add(a)
                w.writerow([a])


def prescriptions(rng: random.Random, n: int = 2000) -> None:
    """Seed 002: one Drive file per line; ``pages`` drives the prompt size (tokens) of the extraction."""
    with (HERE / "002-prescriptions.jsonl").open("w") as f:
        for i in range(1, n + 1):
            pages = rng.choices([2, 3, 4, 5, 6], weights=[35, 30, 20, 10, 5])[0]
            row = {
                "file_id": "1" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
                                         for _ in range(32)),
                "name": f"prescription_{i:05d}.pdf",
                "patient": f"P{rng.randint(10000, 99999)}",
                "pages": pages,
            }
            f.write(json.dumps(row) + "\n")


SPEND_FIELDS = [
    "amazon_spends", "flipkart_spends", "grocery_spends_online", "online_food_ordering", "other_online_spends",
    "other_offline_spends", "dining_or_going_out", "fuel", "school_fees", "rent", "mobile_phone_bills",
    "electricity_bills", "water_bills", "ott_channels", "hotels_annual", "flights_annual",
    "insurance_health_annual", "insurance_car_or_bike_annual", "large_electronics_purchase_like_mobile_tv_etc",
    "all_pharmacy",
]


def users(rng: random.Random, n: int = 2000) -> None:
    """Seed 003: one user per row, monthly spends by category (rupees) as the partner API takes them."""
    with (HERE / "003-users.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "city", *SPEND_FIELDS])
        for i in range(1, n + 1):
            spends = [rng.randint(0, 60) * 500 for _ in SPEND_FIELDS]
            w.writerow([f"u{i:07d}", rng.choice(["Mumbai", "Delhi", "Bengaluru", "Pune", "Chennai", "Hyderabad"]),
                        *spends])


def leads(rng: random.Random, n: int = 2000) -> None:
    """Seed 004: one lead per row: company, contact, role, website, industry."""
    first = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jon", "Kai", "Lena", "Milo", "Nia"]
    last = ["Smith", "Garcia", "Kumar", "Chen", "Novak", "Okafor", "Rossi", "Sato", "Silva", "Weber", "Young"]
    words = ["Acme", "Blue", "Cedar", "Delta", "Ember", "Flux", "Granite", "Harbor", "Iris", "Juniper", "Kite", "Lumen"]
    kinds = ["Labs", "Systems", "Logistics", "Health", "Analytics", "Foods", "Capital", "Robotics", "Studio"]
    industries = ["SaaS", "logistics", "healthcare", "fintech", "retail", "manufacturing", "media", "education"]
    roles = ["CEO", "CTO", "Head of Sales", "VP Marketing", "Operations Manager", "Founder", "Head of Growth"]
    with (HERE / "004-leads.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["lead_id", "company", "contact", "email", "role", "website", "industry"])
        for i in range(1, n + 1):
            company = f"{rng.choice(words)} {rng.choice(kinds)}"
            fn, ln = rng.choice(first), rng.choice(last)
            domain = company.lower().replace(" ", "") + ".example"
            w.writerow([f"L{i:06d}", company, f"{fn} {ln}", f"{fn.lower()}.{ln.lower()}@{domain}", rng.choice(roles),
                        f"https://{domain}", rng.choice(industries)])


def main() -> None:
    televisions(random.Random(0))
    asins(random.Random(1))
    prescriptions(random.Random(2))
    users(random.Random(3))
    leads(random.Random(4))


if __name__ == "__main__":
    main()
