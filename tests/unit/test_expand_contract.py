"""Every migration only expands the schema, so the release before it keeps running beside it during
a rolling upgrade (docs/operations.md, "Upgrading"), unless it says it is a contract step.

Read from each migration's `upgrade()` (its source, not a database): on a table that existed
before the migration, no dropped or renamed table or column, no column made NOT NULL or given
another type, no new NOT NULL column without a server default, no new unique, check or primary-key
constraint or unique index, and no raw SQL that drops, renames or alters a column. Tables the
migration creates itself are free. Dropping an index or a foreign key, or backfilling data, is
expansion.

A contract step is a migration with a module-level `CONTRACT_STEP = "why ..."`: it may remove or
tighten, and belongs in a release *after* the one that stopped using what it removes (so the
previous release never needs it). What this cannot see: a new value in an existing column that
the previous release does not understand (a new key status, say), or a changed meaning of a
column. tests/e2e/test_two_instances.py runs the previous release against the migrated database
for that.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ROOT / "alembic" / "versions"
CONTRACT_MARKER = "CONTRACT_STEP"
RAW_SQL = re.compile(r"\b(DROP\s+(TABLE|COLUMN)|RENAME|SET\s+NOT\s+NULL|ALTER\s+COLUMN)\b", re.IGNORECASE)
TIGHTENING = {"create_unique_constraint", "create_check_constraint", "create_primary_key"}


@dataclass(frozen=True)
class Finding:
    line: int
    what: str


def _constant(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _column_call(call: ast.Call) -> ast.Call | None:
    for arg in call.args:
        if isinstance(arg, ast.Call) and getattr(arg.func, "attr", getattr(arg.func, "id", "")) == "Column":
            return arg
    return None


class UpgradeReader(ast.NodeVisitor):
    """What an `upgrade()` does to tables that existed before it."""

    def __init__(self) -> None:
        self.new_tables: set[str] = set()
        self.batches: dict[str, str | None] = {}  # `with op.batch_alter_table(t) as name` -> t
        self.findings: list[Finding] = []

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            call = item.context_expr
            if (
                isinstance(call, ast.Call)
                and getattr(call.func, "attr", "") == "batch_alter_table"
                and isinstance(item.optional_vars, ast.Name)
            ):
                table = _constant(call.args[0]) if call.args else None
                self.batches[item.optional_vars.id] = table if isinstance(table, str) else None
        self.generic_visit(node)

    def _table(self, call: ast.Call, position: int) -> tuple[bool, str]:
        """(existing?, name) of the table a call works on: op.x(..., table) or batch.x(...)."""
        assert isinstance(call.func, ast.Attribute)
        owner = call.func.value
        if isinstance(owner, ast.Name) and owner.id in self.batches:
            table = self.batches[owner.id]
        else:
            table_node = call.args[position] if len(call.args) > position else _keyword(call, "table_name")
            value = _constant(table_node)
            table = value if isinstance(value, str) else None
        return table not in self.new_tables, table or "?"

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        if not isinstance(node.func, ast.Attribute):
            return
        method, line = node.func.attr, node.lineno
        batch = isinstance(node.func.value, ast.Name) and node.func.value.id in self.batches
        if method == "create_table" and node.args and isinstance(_constant(node.args[0]), str):
            self.new_tables.add(str(_constant(node.args[0])))
        elif method in {"drop_table", "rename_table"}:
            existing, table = self._table(node, 0)
            if existing:
                self.findings.append(Finding(line, f"{method} {table}"))
        elif method == "drop_column":
            existing, table = self._table(node, 0)
            if existing:
                self.findings.append(Finding(line, f"drop_column on {table}"))
        elif method == "alter_column":
            existing, table = self._table(node, 0)
            tightened = _constant(_keyword(node, "nullable")) is False
            changed = [name for name in ("new_column_name", "type_") if _keyword(node, name) is not None]
            if existing and (tightened or changed):
                self.findings.append(
                    Finding(line, f"alter_column on {table}: {'NOT NULL' if tightened else changed}")
                )
        elif method == "add_column":
            existing, table = self._table(node, 0)
            column = _column_call(node)
            if existing and column is not None:
                not_null = _constant(_keyword(column, "nullable")) is False
                if not_null and _keyword(column, "server_default") is None:
                    self.findings.append(Finding(line, f"NOT NULL column without server_default on {table}"))
        elif method in TIGHTENING:
            existing, table = self._table(node, 0 if batch else 1)
            if existing:
                self.findings.append(Finding(line, f"{method} on {table}"))
        elif method == "create_index" and _constant(_keyword(node, "unique")) is True:
            existing, table = self._table(node, 1)
            if existing:
                self.findings.append(Finding(line, f"unique index on {table}"))
        elif method in {"execute", "exec_driver_sql"} and node.args:
            sql_node = node.args[0]
            if isinstance(sql_node, ast.Call) and sql_node.args:  # sa.text("...")
                sql_node = sql_node.args[0]
            sql = _constant(sql_node)
            if isinstance(sql, str) and RAW_SQL.search(sql):
                self.findings.append(Finding(line, f"raw SQL: {sql[:60]}"))


def contract_findings(path: Path) -> tuple[str | None, list[Finding]]:
    """The migration's CONTRACT_STEP reason (or None) and what its upgrade() removes or tightens."""
    tree = ast.parse(path.read_text(), filename=str(path))
    reason = None
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == CONTRACT_MARKER for t in targets):
                reason = _constant(node.value)  # type: ignore[assignment]
    upgrade = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")
    reader = UpgradeReader()
    reader.visit(upgrade)
    return (reason if isinstance(reason, str) else None), reader.findings


def test_every_migration_expands_unless_it_says_it_contracts() -> None:
    migrations = sorted(VERSIONS.glob("*.py"))
    assert len(migrations) >= 14
    unmarked = {}
    for path in migrations:
        reason, findings = contract_findings(path)
        if reason is None and findings:
            unmarked[path.name] = [f"line {f.line}: {f.what}" for f in findings]
    assert unmarked == {}, (
        "these migrations remove or tighten what the previous release may still use; split them "
        "into an expand step now and a contract step (CONTRACT_STEP = 'why') in a later release: "
        f"{unmarked}"
    )


def test_a_contract_step_says_why_and_really_contracts() -> None:
    for path in sorted(VERSIONS.glob("*.py")):
        reason, findings = contract_findings(path)
        if reason is not None:
            assert len(reason) >= 40, f"{path.name}: CONTRACT_STEP should say why it is safe"
            assert findings, f"{path.name} is marked as a contract step but only expands"


def test_the_reader_sees_each_kind_of_contraction(tmp_path: Path) -> None:
    migration = tmp_path / "m.py"
    migration.write_text(
        """
def upgrade():
    op.create_table("fresh", sa.Column("id", sa.Integer(), nullable=False))
    op.create_index("ix_fresh", "fresh", ["id"], unique=True)
    op.drop_table("old")
    op.create_index("ix_old", "old", ["x"], unique=True)
    op.create_unique_constraint("uq_old", "old", ["x"])
    op.execute("ALTER TABLE old RENAME TO older")
    op.execute(sa.text("ALTER TABLE old DROP COLUMN x"))
    op.execute(sa.text("UPDATE old SET x = 1"))
    op.drop_index("ix_gone")
    with op.batch_alter_table("keys") as batch:
        batch.drop_column("name")
        batch.alter_column("status", nullable=False)
        batch.alter_column("note", nullable=True)
        batch.add_column(sa.Column("n", sa.Integer(), nullable=False))
        batch.add_column(sa.Column("m", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("o", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_keys", ["a"])
    with op.batch_alter_table("fresh") as batch:
        batch.alter_column("id", nullable=False)
"""
    )
    reason, findings = contract_findings(migration)
    assert reason is None
    assert [f.what for f in findings] == [
        "drop_table old",
        "unique index on old",
        "create_unique_constraint on old",
        "raw SQL: ALTER TABLE old RENAME TO older",
        "raw SQL: ALTER TABLE old DROP COLUMN x",
        "drop_column on keys",
        "alter_column on keys: NOT NULL",
        "NOT NULL column without server_default on keys",
        "create_unique_constraint on keys",
    ]
