from datetime import datetime, timezone

import pytest

from jupyterlab_raydata.catalog.params import SortKey, parse_columns, parse_sort, parse_time
from jupyterlab_raydata.errors import BadRequest


def test_epoch_seconds_pass_through():
    assert parse_time("1700000000.5", name="since") == 1700000000.5


def test_iso_datetime_with_offset():
    expected = datetime(2024, 3, 5, 14, 30, tzinfo=timezone.utc).timestamp()
    assert parse_time("2024-03-05T14:30:00Z", name="since") == expected
    assert parse_time("2024-03-05 16:30+02:00", name="since") == expected


def test_date_alone_is_start_or_end_of_local_day():
    start = parse_time("2024-03-05", name="since")
    end = parse_time("2024-03-05", name="until", end_of_day=True)
    assert start == datetime(2024, 3, 5).timestamp()
    assert end == datetime(2024, 3, 6).timestamp()


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "03/05/2024", ""])
def test_bad_dates_name_the_parameter(value):
    with pytest.raises(BadRequest) as info:
        parse_time(value, name="until")
    assert "'until'" in info.value.error


def test_sort_default_and_syntax():
    assert parse_sort(None) == [SortKey("time", True)]
    assert parse_sort("-time, scan_id") == [SortKey("time", True), SortKey("scan_id")]
    assert parse_sort('owner,-"sequence id",+time') == [
        SortKey("owner"),
        SortKey("sequence id", True),
        SortKey("time"),
    ]


@pytest.mark.parametrize(
    ("value", "problem"), [("a,,b", "empty"), ("-", "empty"), ("a,b,c,d", "At most 3"), ("a,-a", "twice")]
)
def test_bad_sorts(value, problem):
    with pytest.raises(BadRequest, match=problem):
        parse_sort(value)


def test_columns_split_dedupe_and_limit():
    assert parse_columns("sequence id, owner,owner") == ["sequence id", "owner"]
    assert parse_columns(["a,b", '"c"']) == ["a", "b", "c"]
    assert parse_columns(None) == []
    with pytest.raises(BadRequest):
        parse_columns(",".join(f"k{i}" for i in range(51)))


def test_a_date_alone_is_local_midnight_on_both_sides(new_york):
    # New York is UTC-5 in March: local midnight of 5 March is 05:00 UTC.
    midnight = datetime(2024, 3, 5, 5, tzinfo=timezone.utc).timestamp()
    assert parse_time("2024-03-05", name="since") == midnight
    assert parse_time("2024-03-04", name="until", end_of_day=True) == midnight
    assert parse_time("2024-03-05T00:00", name="since") == midnight
    # In summer time (UTC-4) the day starts an hour earlier in UTC.
    assert parse_time("2024-07-01", name="since") == datetime(2024, 7, 1, 4, tzinfo=timezone.utc).timestamp()
