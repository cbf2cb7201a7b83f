"""The ``q`` search language of the run table: parse a query string into terms.

:data:`QUERY_HELP` is the text the sidebar shows in its help popup; keep it in step with the parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadRequest

QUERY_HELP = """\
Search runs by typing words and filters, separated by spaces. Every part must match (AND).

  silica              free text: runs whose metadata mentions "silica" anywhere
  silic*              a word that starts with "silic"
  "bottle 3"          a quoted phrase
  -alignment          leave out runs that mention "alignment" (any part can be negated with -)
  owner=alice         a start-document key equals a value (case-insensitive)
  "sequence id"=3     quote keys and values that contain spaces
  sample=*silica*     * matches any characters inside a key=value filter
  owner!=alice        not equal (also matches runs without the key)
  temperature>=25     comparisons: >=  <=  >  <  (numbers compare as numbers)
  time>=2024-03-01    dates for the run start time (also use the From/To boxes)
  plan_args.num=10    a dot reaches into nested metadata
  detectors=eiger4m   a list matches if any of its items matches
  cycle=*             the key is present
  123456              a bare number of 5 digits or more is a scan_id
  1a2b3c4d            6 or more hex characters: a uid prefix (or that word in the text)
"""

#: Worked examples, for the API's help answer.
QUERY_EXAMPLES = [
    ("owner=alice silica", "alice's runs that mention silica"),
    ('"sequence id"=3 -aborted', "sequence 3, leaving out runs that mention 'aborted'"),
    ("plan_name=count temperature>=25", "counts at 25 degrees or warmer"),
    ("sample=*PS*", "samples whose name contains PS"),
    ("98765", "the run with scan_id 98765"),
]

OPERATORS = (">=", "<=", "!=", "=", ">", "<")
_OPERATOR_START = set("=!<>")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_SCAN_ID = re.compile(r"^\d{5,}$")
_HEX = re.compile(r"^[0-9a-fA-F-]{6,}$")
_WORD_CHARS = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Text:
    """Free text: a word (``prefix`` when it ended in ``*``) or a quoted phrase."""

    text: str
    negate: bool = False
    prefix: bool = False
    phrase: bool = False


@dataclass(frozen=True)
class Filter:
    """``key op value`` on a start-document key; ``value`` is the raw string the user typed."""

    key: str
    op: str
    value: str
    negate: bool = False

    @property
    def number(self) -> float | None:
        """The value as a number, or ``None`` when it is text."""
        return float(self.value) if _NUMBER.match(self.value) else None

    @property
    def is_pattern(self) -> bool:
        return "*" in self.value


@dataclass(frozen=True)
class ScanId:
    """A bare number of five digits or more."""

    scan_id: int
    negate: bool = False


@dataclass(frozen=True)
class UidPrefix:
    """A bare hex string of six characters or more: a uid prefix, or that word in the text."""

    prefix: str
    negate: bool = False


Term = Text | Filter | ScanId | UidPrefix


def _fail(problem: str, position: int) -> BadRequest:
    return BadRequest("Invalid search query", f"{problem} at position {position + 1}.")


class _Scanner:
    def __init__(self, source: str):
        self.s = source
        self.i = 0

    def at_end(self) -> bool:
        return self.i >= len(self.s)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_space(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def quoted(self) -> str:
        """Read a double-quoted string; backslash escapes the next character."""
        start = self.i
        self.i += 1
        out = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == "\\" and self.i + 1 < len(self.s):
                out.append(self.s[self.i + 1])
                self.i += 2
                continue
            if ch == '"':
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1
        raise _fail("Unclosed quote", start)

    def bare(self, stop_at_operator: bool) -> str:
        start = self.i
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch.isspace() or (stop_at_operator and ch in _OPERATOR_START):
                break
            if ch == '"':
                raise _fail("Unexpected quote inside a word", self.i)
            self.i += 1
        return self.s[start : self.i]

    def operator(self) -> str | None:
        for op in OPERATORS:
            if self.s.startswith(op, self.i):
                self.i += len(op)
                return op
        return None


def parse_query(q: str | None) -> list[Term]:
    """Parse a search string into terms that must all match (see :data:`QUERY_HELP`).

    Parameters
    ----------
    q : str or None
        What the user typed; empty or ``None`` means "every run".

    Returns
    -------
    list of Text, Filter, ScanId or UidPrefix

    Raises
    ------
    BadRequest
        When the query is malformed; the detail names the problem and its 1-based position.
    """
    scanner = _Scanner(q or "")
    terms: list[Term] = []
    while True:
        scanner.skip_space()
        if scanner.at_end():
            return terms
        terms.append(_term(scanner))


def _term(sc: _Scanner) -> Term:
    start = sc.i
    negate = sc.peek() == "-"
    if negate:
        sc.i += 1
        if sc.at_end() or sc.peek().isspace():
            raise _fail("A '-' must be followed by the term to leave out", start)
    atom_start = sc.i
    if sc.peek() in _OPERATOR_START:
        raise _fail(f"Missing key before '{sc.operator() or sc.peek()}'", atom_start)
    quoted = sc.peek() == '"'
    atom = sc.quoted() if quoted else sc.bare(stop_at_operator=True)
    op_start = sc.i
    op = sc.operator()
    if op is None:
        if not sc.at_end() and not sc.peek().isspace():
            raise _fail("Expected a space or an operator after the quote", sc.i)
        return _free_term(atom, quoted, negate, atom_start)
    if not atom:
        raise _fail(f"Missing key before '{op}'", op_start)
    if sc.at_end() or sc.peek().isspace():
        raise _fail(f"Missing value after '{atom}{op}'", sc.i)
    if sc.peek() == '"':
        value = sc.quoted()
    else:
        value_start = sc.i
        value = sc.bare(stop_at_operator=False)
        if value[:1] in _OPERATOR_START:
            raise _fail(f"Unexpected '{value[0]}' after '{atom}{op}'", value_start)
    if op in (">", "<", ">=", "<=") and "*" in value:
        raise _fail(f"Wildcards cannot be used with '{op}'", op_start)
    return Filter(key=atom, op=op, value=value, negate=negate)


def _free_term(atom: str, quoted: bool, negate: bool, position: int) -> Term:
    if quoted:
        if not _WORD_CHARS.search(atom):
            raise _fail(f'The phrase "{atom}" has no letters or digits to search for', position)
        return Text(atom, negate=negate, phrase=True)
    if _SCAN_ID.match(atom):
        return ScanId(int(atom), negate=negate)
    if _HEX.match(atom) and re.search(r"[a-fA-F]", atom) and not atom.startswith("-"):
        return UidPrefix(atom.lower(), negate=negate)
    prefix = atom.endswith("*")
    word = atom.rstrip("*") if prefix else atom
    if "*" in word:
        raise _fail(
            f"In free text '*' may only end a word (like 'silic*'); use key=*{word.strip('*')}* to match "
            f"inside a value; '{atom}'",
            position,
        )
    if not _WORD_CHARS.search(word):
        raise _fail(f"'{atom}' has no letters or digits to search for", position)
    return Text(word, negate=negate, prefix=prefix)
