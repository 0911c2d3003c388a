"""The store's SQL, written once in SQLite's dialect, said in PostgreSQL's.

Every query of the store is plain SQL that both databases understand, except for a few SQLite
idioms that this module rewrites (cached per statement text, so each is translated once):

- placeholders ``?`` and ``:name`` -> ``%s`` and ``%(name)s`` (a literal ``%`` is doubled);
- ``INSERT OR IGNORE`` -> ``ON CONFLICT DO NOTHING``; ``INSERT OR REPLACE`` -> an upsert on the
  table's primary key;
- ``json_each(?)`` (a list bound as one JSON array) -> ``jsonb_array_elements_text``;
  ``json_extract(x, '$.a')`` -> ``x::jsonb #>> '{a}'``;
- ``IS ?`` / ``IS NOT ?`` -> ``IS [NOT] DISTINCT FROM``; scalar ``MIN(a, b)`` -> ``LEAST``;
  ``rowid`` -> ``ctid`` (insertion order of rows never updated); ``IFNULL`` -> ``COALESCE``;
  ``group_concat`` -> ``string_agg``; ``(SELECT name FROM session.actor)`` (the writer's
  name, a table the SQLite connection attaches) -> the transaction's ``mlops.actor``
  setting; a subquery in FROM gets the alias PostgreSQL 15 needs;
- an ``INSERT`` into a table with an integer ``id`` returns it (``cursor.lastrowid``);
- DDL: ``INTEGER PRIMARY KEY`` -> an identity column, ``INTEGER`` -> ``BIGINT``, ``REAL`` ->
  ``DOUBLE PRECISION``, ``BLOB`` -> ``BYTEA``, ``WITHOUT ROWID`` dropped; ``CREATE TRIGGER ...
  BEGIN ... END`` -> a PL/pgSQL function and its trigger (``SELECT RAISE(ABORT, 'm')`` ->
  ``RAISE EXCEPTION``).

Migrations therefore stay one text for both backends. Anything this module cannot say in
PostgreSQL raises ``ValueError`` naming the statement, never a silent change of meaning.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_SCAN = re.compile(r"""(?P<str>'(?:[^']|'')*')|(?P<ident>"(?:[^"]|"")*")|(?P<comment>--[^\n]*)""")
_HOLE = "\x01{}\x01"
_HOLE_RE = re.compile("\x01(\\d+)\x01")
_KEYWORDS = {
    "where", "on", "join", "left", "right", "inner", "outer", "cross", "group", "order", "limit",
    "union", "except", "intersect", "and", "or", "as", "natural", "using", "having", "window",
}  # fmt: skip


@dataclass(frozen=True)
class Statement:
    """One translated statement: the SQL for psycopg and whether it returns the new id."""

    sql: str
    returns_id: bool = False


def mask(sql: str) -> tuple[str, list[str]]:
    """``sql`` with string literals replaced by holes (and comments dropped), and the literals."""
    literals: list[str] = []
    out: list[str] = []
    pos = 0
    for m in _SCAN.finditer(sql):
        out.append(sql[pos : m.start()])
        if m.group("str") is not None:
            out.append(_HOLE.format(len(literals)))
            literals.append(m.group("str"))
        elif m.group("ident") is not None:
            out.append(m.group("ident"))
        else:
            out.append(" ")
        pos = m.end()
    out.append(sql[pos:])
    return "".join(out), literals


def unmask(sql: str, literals: list[str], *, escape_percent: bool = True) -> str:
    def put(m: re.Match[str]) -> str:
        text = literals[int(m.group(1))]
        return text.replace("%", "%%") if escape_percent else text

    return _HOLE_RE.sub(put, sql)


def split_script(script: str) -> list[str]:
    """The statements of an SQLite script (trigger bodies kept whole)."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if mask(buf)[0].strip(" \n\t;"):
                statements.append(buf.strip())
            buf = ""
    if mask(buf)[0].strip(" \n\t;"):
        statements.append(buf.strip())
    return statements


# -- DML ---------------------------------------------------------------------------------------


def _reserved(sql: str) -> str:
    """Column names SQLite takes bare that PostgreSQL reserves (``runs.user``) are quoted."""
    return re.sub(r'(?<!["\w])user\b(?!")', '"user"', sql, flags=re.IGNORECASE)


def _placeholders(sql: str) -> str:
    sql = sql.replace("%", "%%")
    sql = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql)
    return sql.replace("?", "%s")


def _paren_end(sql: str, start: int) -> int:
    """Index just past the parenthesis group opening at ``sql[start] == '('``."""
    depth = 0
    for i in range(start, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError(f"Unbalanced parentheses in SQL: {sql[:200]!r}")


def _alias_subqueries(sql: str) -> str:
    """``FROM (SELECT ...)`` without an alias (PostgreSQL 15 requires one) gets ``AS _sqN``."""
    out = sql
    n = 0
    pos = 0
    pattern = re.compile(r"\bFROM\s*\(\s*SELECT\b", re.IGNORECASE)
    while True:
        m = pattern.search(out, pos)
        if m is None:
            return out
        open_at = out.index("(", m.start())
        end = _paren_end(out, open_at)
        rest = out[end:]
        word = re.match(r"\s*(?:AS\s+)?([A-Za-z_]\w*)", rest, re.IGNORECASE)
        if word is None or word.group(1).lower() in _KEYWORDS:
            out = f"{out[:end]} AS _sq{n}{rest}"
            n += 1
        pos = open_at + 1


def _json_path(literal: str) -> str:
    path = literal[1:-1]
    if path == "$":
        return "'{}'"
    if not path.startswith("$."):
        raise ValueError(f"Unsupported JSON path {literal} (use '$' or '$.a.b').")
    return "'{" + ",".join(path[2:].split(".")) + "}'"


def _rewrite_dml(sql: str, literals: list[str]) -> str:
    flags = re.IGNORECASE
    sql = _reserved(sql)
    sql = re.sub(
        r"\(\s*SELECT\s+name\s+FROM\s+session\.actor\s*\)",
        "current_setting('mlops.actor', true)",
        sql,
        flags=flags,
    )
    sql = re.sub(r"\bIFNULL\s*\(", "COALESCE(", sql, flags=flags)
    sql = re.sub(r"\bgroup_concat\s*\(", "string_agg(", sql, flags=flags)
    sql = re.sub(r"\browid\b", "ctid", sql, flags=flags)
    sql = re.sub(r"\bIS\s+NOT\s+(%s|%\(\w+\)s)", r"IS DISTINCT FROM \1", sql, flags=flags)
    sql = re.sub(r"\bIS\s+(%s|%\(\w+\)s)", r"IS NOT DISTINCT FROM \1", sql, flags=flags)
    sql = re.sub(r"\bCAST\s*\((.+?)\s+AS\s+INTEGER\s*\)", r"CAST(\1 AS BIGINT)", sql, flags=flags)
    sql = re.sub(
        r"\bCAST\s*\((.+?)\s+AS\s+REAL\s*\)", r"CAST(\1 AS DOUBLE PRECISION)", sql, flags=flags
    )
    sql = re.sub(r"\bMIN\s*\(([^(),]+),([^(),]+)\)", r"LEAST(\1,\2)", sql, flags=flags)
    sql = re.sub(r"\bMAX\s*\(([^(),]+),([^(),]+)\)", r"GREATEST(\1,\2)", sql, flags=flags)

    def each(m: re.Match[str]) -> str:
        alias = m.group(2)
        elements = f"jsonb_array_elements_text(({m.group(1)})::jsonb)"
        if alias is None or alias.lower() in _KEYWORDS:
            return f"{elements} AS json_each(value)" + (f" {alias}" if alias else "")
        return f"{elements} AS {alias}(value)"

    sql = re.sub(
        r"\bjson_each\s*\(\s*(%s|%\(\w+\)s)\s*\)(?:\s+(?:AS\s+)?([A-Za-z_]\w*))?",
        each,
        sql,
        flags=flags,
    )

    def extract(m: re.Match[str]) -> str:
        path = _json_path(literals[int(m.group(2))])
        return f"(({m.group(1)})::jsonb #>> {path})"

    sql = re.sub(
        r"\bjson_extract\s*\(\s*([^(),]+?)\s*,\s*\x01(\d+)\x01\s*\)", extract, sql, flags=flags
    )
    return _alias_subqueries(sql)


_INSERT = re.compile(
    r"^\s*INSERT\s+(?:OR\s+(?P<or>IGNORE|REPLACE)\s+)?INTO\s+(?P<table>\w+)\s*(?P<cols>\([^)]*\))?",
    re.IGNORECASE,
)


def _conflict_clause(
    kind: str, table: str, cols: str | None, primary_keys: Mapping[str, tuple[str, ...]]
) -> str:
    if kind.upper() == "IGNORE":
        return " ON CONFLICT DO NOTHING"
    keys = primary_keys.get(table.lower())
    if not keys or cols is None:
        raise ValueError(
            f"INSERT OR REPLACE INTO {table} needs the table's primary key and a column list."
        )
    names = [c.strip().strip('"') for c in cols.strip("()").split(",")]
    update = [c for c in names if c.lower() not in {k.lower() for k in keys}]
    if not update:
        return f" ON CONFLICT ({', '.join(keys)}) DO NOTHING"
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
    return f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"


def translate_dml(
    sql: str,
    primary_keys: Mapping[str, tuple[str, ...]],
    id_tables: frozenset[str],
    *,
    want_id: bool = True,
) -> Statement:
    masked, literals = mask(sql)
    body = masked.strip().rstrip(";").rstrip()
    returns_id = False
    m = _INSERT.match(body)
    if m is not None:
        table = m.group("table")
        if m.group("or"):
            body = re.sub(r"\bOR\s+(IGNORE|REPLACE)\s+INTO\b", "INTO", body, count=1, flags=re.I)
            body += _conflict_clause(m.group("or"), table, m.group("cols"), primary_keys)
        if want_id and table.lower() in id_tables and not re.search(r"\bRETURNING\b", body, re.I):
            body += " RETURNING id"
            returns_id = True
    body = _rewrite_dml(_placeholders(body), literals)
    return Statement(unmask(body, literals), returns_id)


# -- DDL ---------------------------------------------------------------------------------------

_TRIGGER = re.compile(
    r"^\s*CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s+"
    r"(?P<when>BEFORE|AFTER|INSTEAD\s+OF)\s+(?P<event>INSERT|DELETE|UPDATE(?:\s+OF\s+[\w\s,]+?)?)"
    r"\s+ON\s+(?P<table>\w+)\s*(?:FOR\s+EACH\s+ROW\s*)?(?:WHEN\s+(?P<cond>.+?)\s*)?"
    r"\bBEGIN\b(?P<body>.*)\bEND\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _types(sql: str) -> str:
    flags = re.IGNORECASE
    sql = re.sub(
        r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        sql,
        flags=flags,
    )
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql, flags=flags)
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql, flags=flags)
    sql = re.sub(r"\bBLOB\b", "BYTEA", sql, flags=flags)
    sql = re.sub(r"\)\s*WITHOUT\s+ROWID\b", ")", sql, flags=flags)
    return _reserved(sql)


def _trigger(m: re.Match[str], literals: list[str], dml: Callable[[str], str]) -> list[str]:
    name, table = m.group("name"), m.group("table")
    timing = re.sub(r"\s+", " ", m.group("when").upper())
    event = re.sub(r"\s+", " ", m.group("event").strip())
    statements = [s.strip() for s in m.group("body").split(";") if s.strip()]
    body: list[str] = []
    for stmt in statements:
        raise_ = re.match(
            r"^SELECT\s+RAISE\s*\(\s*(ABORT|FAIL|ROLLBACK)\s*,\s*(\x01\d+\x01)\s*\)$", stmt, re.I
        )
        if raise_:
            body.append(
                f"RAISE EXCEPTION {unmask(raise_.group(2), literals, escape_percent=False)}"
            )
        elif re.match(r"^SELECT\s+RAISE\s*\(\s*IGNORE\s*\)$", stmt, re.I):
            body.append("RETURN NULL")
        else:
            body.append(dml(unmask(stmt, literals, escape_percent=False)))
    result = "NULL" if timing == "AFTER" else "OLD" if event.upper() == "DELETE" else "NEW"
    function = f"{name}_fn"
    cond = m.group("cond")
    when = ""
    if cond:
        when = f" WHEN ({dml(unmask(cond, literals, escape_percent=False))})"
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $mj$\n"
        f"BEGIN\n  {(';' + chr(10) + '  ').join(body)};\n  RETURN {result};\nEND\n$mj$",
        f"CREATE TRIGGER {name} {timing} {event} ON {table} FOR EACH ROW{when} "
        f"EXECUTE FUNCTION {function}()",
    ]


def _plain(sql: str) -> str:
    """A statement of a trigger body or a view, in PostgreSQL (no placeholders)."""
    masked, literals = mask(sql)
    return unmask(_rewrite_dml(masked, literals), literals, escape_percent=False)


def translate_ddl(sql: str, primary_keys: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One SQLite DDL (or script) statement as the PostgreSQL statements that do the same."""
    masked, literals = mask(sql)
    text = masked.strip().rstrip(";").strip()
    head = " ".join(text.split()[:3]).upper()
    m = _TRIGGER.match(text + " ")
    if m is not None:

        def dml(stmt: str) -> str:
            return _no_placeholders(stmt, primary_keys)

        return _trigger(m, literals, dml)
    if head.startswith(("CREATE TABLE", "ALTER TABLE")):
        return [unmask(_types(text), literals, escape_percent=False)]
    if head.startswith(("CREATE VIEW", "CREATE TEMP VIEW")):
        return [_plain(unmask(text, literals, escape_percent=False))]
    if head.startswith("DROP TRIGGER"):
        raise ValueError("DROP TRIGGER needs its table in PostgreSQL; the connection handles it.")
    if head.startswith(("CREATE INDEX", "CREATE UNIQUE", "DROP TABLE", "DROP INDEX", "DROP VIEW")):
        return [unmask(text, literals, escape_percent=False)]
    return [_no_placeholders(unmask(text, literals, escape_percent=False), primary_keys)]


def _no_placeholders(sql: str, primary_keys: Mapping[str, tuple[str, ...]]) -> str:
    """A DML statement without bound values (scripts, trigger bodies), in PostgreSQL."""
    masked, literals = mask(sql)
    body = masked.strip().rstrip(";").rstrip()
    m = _INSERT.match(body)
    if m is not None and m.group("or"):
        body = re.sub(r"\bOR\s+(IGNORE|REPLACE)\s+INTO\b", "INTO", body, count=1, flags=re.I)
        body += _conflict_clause(m.group("or"), m.group("table"), m.group("cols"), primary_keys)
    return unmask(_rewrite_dml(body, literals), literals, escape_percent=False)


def is_ddl(sql: str) -> bool:
    head = " ".join(mask(sql)[0].split()[:2]).upper()
    return head.startswith(("CREATE ", "ALTER ", "DROP "))


class Translator:
    """Translates statements for one schema, each statement text once."""

    def __init__(self) -> None:
        self.primary_keys: dict[str, tuple[str, ...]] = {}
        self.id_tables: frozenset[str] = frozenset()
        self._cache: dict[tuple[str, bool], Statement] = {}

    def set_schema(
        self, primary_keys: Mapping[str, tuple[str, ...]], id_tables: frozenset[str]
    ) -> None:
        self.primary_keys = dict(primary_keys)
        self.id_tables = id_tables
        self._cache.clear()

    def dml(self, sql: str, *, want_id: bool = True) -> Statement:
        key = (sql, want_id)
        stmt = self._cache.get(key)
        if stmt is None:
            stmt = translate_dml(sql, self.primary_keys, self.id_tables, want_id=want_id)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = stmt
        return stmt

    def ddl(self, sql: str) -> list[str]:
        return translate_ddl(sql, self.primary_keys)
