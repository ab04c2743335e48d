"""Watermarks: inclusive boundary without loss or repetition, stored in Prefect Variables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from prefect_soar.flows.watermark import Watermark, load_watermark, reset_watermark, save_watermark

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def test_empty_watermark_accepts_everything_and_looks_back():
    wm = Watermark()
    assert wm.is_new(T0, "a")
    assert wm.since(timedelta(days=3), now=T0) == T0 - timedelta(days=3)


def test_boundary_items_are_skipped_once_processed():
    wm = Watermark().advanced([(T0, "a"), (T0 - timedelta(seconds=1), "old")])
    assert wm.timestamp == T0 and wm.boundary_ids == ["a"] and wm.processed == 2
    assert not wm.is_new(T0, "a")
    assert wm.is_new(T0, "b"), "a new item at the same instant must not be lost"
    assert not wm.is_new(T0 - timedelta(seconds=1), "old")
    assert wm.is_new(T0 + timedelta(microseconds=1), "c")
    assert wm.since(timedelta(days=3)) == T0


def test_advancing_past_the_boundary_clears_boundary_ids():
    wm = Watermark().advanced([(T0, "a")]).advanced([(T0, "b"), (T0 + timedelta(seconds=5), "c")])
    assert wm.timestamp == T0 + timedelta(seconds=5)
    assert wm.boundary_ids == ["c"]
    assert wm.processed == 3


def test_naive_and_offset_times_compare_as_utc():
    wm = Watermark().advanced([(T0.replace(tzinfo=None), "a")])
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    assert not wm.is_new(plus_two, "a")


def test_boundary_ids_stay_small_for_the_variable_limit():
    wm = Watermark().advanced([(T0, f"id-{n:05d}") for n in range(1000)])
    assert len(wm.model_dump_json()) < 5000


async def test_bad_name_is_rejected_before_any_call():
    with pytest.raises(ValueError, match="watermark name"):
        await save_watermark("Bad Name!", Watermark())


async def test_round_trip_through_prefect_variables(prefect_harness):
    name = "test-watermark-round-trip"
    await reset_watermark(name)
    assert await load_watermark(name) == Watermark()
    wm = Watermark().advanced([(T0, "x"), (T0, "y")])
    await save_watermark(name, wm)
    assert await load_watermark(name) == wm
    await reset_watermark(name)
    assert (await load_watermark(name)).timestamp is None
