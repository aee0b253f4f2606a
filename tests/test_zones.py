"""The one wording of a clinic's time zone on the desk and patient pages."""

from __future__ import annotations

from datetime import UTC, datetime

from scheduler.kit.zones import everyday_zone_name, zone_label, zone_terms


def test_desk_label_names_the_zone_its_abbreviation_and_offset() -> None:
    winter = datetime(2027, 1, 5, 16, 0, tzinfo=UTC)
    summer = datetime(2027, 7, 5, 16, 0, tzinfo=UTC)
    assert zone_label("America/Denver", winter) == "America/Denver (MST, UTC\u22127)"
    assert zone_label("America/Denver", summer) == "America/Denver (MDT, UTC\u22126)"
    assert zone_label("Asia/Kolkata", winter) == "Asia/Kolkata (IST, UTC+5:30)"
    assert zone_label("UTC", winter) == "UTC (UTC, UTC+0)"


def test_a_span_across_a_clock_change_names_both_sides() -> None:
    before = datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    after = datetime(2027, 3, 15, 6, 59, tzinfo=UTC)
    assert zone_terms("America/Denver", before, after) == "MST, UTC\u22127 \u2192 MDT, UTC\u22126"
    assert zone_terms("America/Denver", before, before) == "MST, UTC\u22127"


def test_patients_read_the_everyday_name() -> None:
    at = datetime(2027, 1, 5, 16, 0, tzinfo=UTC)
    assert everyday_zone_name("America/Denver") == "Mountain Time"
    assert everyday_zone_name("America/Denver", at) == "Mountain Time (MST)"
    assert everyday_zone_name("Europe/Oslo", at) == "Europe/Oslo time (CET)"
