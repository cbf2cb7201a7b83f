import pytest

from jupyterlab_raydata.catalog.query import QUERY_HELP, Filter, ScanId, Text, UidPrefix, parse_query
from jupyterlab_raydata.errors import BadRequest


@pytest.mark.parametrize("q", ["", "   ", None])
def test_empty_query_matches_everything(q):
    assert parse_query(q) == []


def test_free_text_words_phrases_and_prefixes():
    assert parse_query('silica "bottle 3" therm*') == [
        Text("silica"),
        Text("bottle 3", phrase=True),
        Text("therm", prefix=True),
    ]


def test_negation_of_any_term():
    assert parse_query('-alignment -"dark frame" -owner=bob -12345') == [
        Text("alignment", negate=True),
        Text("dark frame", negate=True, phrase=True),
        Filter("owner", "=", "bob", negate=True),
        ScanId(12345, negate=True),
    ]


@pytest.mark.parametrize("op", [">=", "<=", "!=", "=", ">", "<"])
def test_every_operator(op):
    assert parse_query(f"temperature{op}25") == [Filter("temperature", op, "25")]


def test_quoted_keys_and_values():
    assert parse_query('"sequence id"=3 sample="PS latex" "data path"=/nsls2/*') == [
        Filter("sequence id", "=", "3"),
        Filter("sample", "=", "PS latex"),
        Filter("data path", "=", "/nsls2/*"),
    ]


def test_escaped_quote_inside_quotes():
    assert parse_query(r'sample="6\" wafer"') == [Filter("sample", "=", '6" wafer')]


def test_filter_value_helpers():
    number, text, pattern = parse_query("num=1e-3 owner=alice sample=*silica*")
    assert number.number == pytest.approx(1e-3) and not number.is_pattern
    assert text.number is None
    assert pattern.is_pattern


def test_wildcard_value_and_key_presence():
    assert parse_query("cycle=*") == [Filter("cycle", "=", "*")]


def test_bare_numbers_of_five_digits_are_scan_ids():
    assert parse_query("98765 1234") == [ScanId(98765), Text("1234")]


def test_hex_of_six_or_more_is_a_uid_prefix():
    assert parse_query("1A2b3C 1a2b3c4d-5e6f abc12 123456") == [
        UidPrefix("1a2b3c"),
        UidPrefix("1a2b3c4d-5e6f"),
        Text("abc12"),
        ScanId(123456),
    ]


def test_hyphenated_words_and_dates_stay_words():
    assert parse_query("2024-1 time>=2024-03-05") == [Text("2024-1"), Filter("time", ">=", "2024-03-05")]


@pytest.mark.parametrize(
    ("q", "problem", "position"),
    [
        ('owner="alice', "Unclosed quote", 7),
        ('"bottle 3', "Unclosed quote", 1),
        ("=alice", "Missing key", 1),
        ("a >=3", "Missing key", 3),
        ("owner=", "Missing value", 7),
        ("owner= alice", "Missing value", 7),
        ("owner==alice", "Unexpected '='", 7),
        ("foo - bar", "must be followed", 5),
        ("sil*ca", "may only end a word", 1),
        ("*silica", "may only end a word", 1),
        ("x>=*3", "Wildcards cannot", 2),
        ('"a"b', "Expected a space", 4),
        ('ab"c', "Unexpected quote", 3),
        ("/// ok", "no letters or digits", 1),
        ('" "', "no letters or digits", 1),
    ],
)
def test_malformed_queries_name_problem_and_position(q, problem, position):
    with pytest.raises(BadRequest) as info:
        parse_query(q)
    assert info.value.status == 400
    assert problem in info.value.detail
    assert f"position {position}." in info.value.detail


def test_help_text_documents_every_element():
    for example in [
        "silic*",
        '"bottle 3"',
        "-alignment",
        "owner=alice",
        '"sequence id"=3',
        "!=",
        ">=",
        "*",
        "uid",
    ]:
        assert example in QUERY_HELP
