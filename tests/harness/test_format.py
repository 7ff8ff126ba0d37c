"""The one set of formatters (harness/format.py): conventional decimal units everywhere."""

from __future__ import annotations

import math

from harness.format import (
    fmt_bps,
    fmt_bytes,
    fmt_duration,
    fmt_duration_round,
    fmt_figure,
    fmt_num,
    fmt_one,
    fmt_pct,
    fmt_rps,
    fmt_value,
)


def test_figures_are_formatted_for_people():
    assert fmt_rps(7.4015) == "7.4 req/s"
    assert fmt_rps(13.0) == "13 req/s"
    assert fmt_rps(0.3704) == "0.37 req/s"
    assert fmt_rps(1234.4) == "1,234 req/s"
    assert fmt_bps(52_000) == "52 kbit/s"
    assert fmt_bps(29_606.15) == "29.6 kbit/s"
    assert fmt_bps(2_072_430) == "2.07 Mbit/s"
    assert fmt_bytes(22_701_997_131) == "22.7 GB"
    assert fmt_bytes(500) == "500 B"
    assert fmt_bytes(999.7) == "1 kB"
    assert fmt_pct(0.0) == "0%" and fmt_pct(0.0123) == "1.2%" and fmt_pct(0.0004) == "0.04%"


def test_durations_in_arithmetic_and_rounded_for_a_notice():
    assert fmt_duration(45) == "45 s"
    assert fmt_duration(27000) == "7.5 h"
    assert fmt_duration(540000) == "6.25 days"
    assert fmt_duration(442.8) == "7.4 min"
    assert fmt_duration(math.inf) == "never"
    assert fmt_duration_round(27_000) == "7.5 h"
    assert fmt_duration_round(270_214) == "3.1 days (75 h)"
    assert fmt_duration_round(1_351) == "23 min"
    assert fmt_duration_round(math.inf) == "never (nothing gets through)"


def test_verdict_units_are_the_load_spec_units():
    """A claim verdict and a load spec print a bandwidth or a size the same way (no kbps/KB)."""
    assert fmt_one(29_606.15, "bps") == fmt_bps(29_606.15) == "29.6 kbit/s"
    assert fmt_value([52_000, 3_640_000], "bps") == "52 kbit/s-3.64 Mbit/s"
    assert fmt_one(22_701_997_131, "bytes/day") == "22.7 GB/day"
    assert fmt_value([60, 600], "s") == "60 s-10.0 min"
    assert fmt_num(7.4015) == "7.4" and fmt_num(1234.4) == "1,234" and fmt_num(0) == "0"


def test_table_figures():
    assert fmt_figure(None) == "-" and fmt_figure(12_345.6) == "12,346" and fmt_figure(0.123456) == "0.1235"
