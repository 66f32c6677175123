"""``gridbot org import|export FILE`` and ``gridbot policy import FILE``: moving the deployer's data in and out."""

from __future__ import annotations

import argparse
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy.orm import Session

from core.errors import OperatorError
from gridbot.operator import operator_session

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

# Command groups (``org``, ``policy``) shared between CLI modules. Another module adds an action to a group with
#     from gridbot.cli_data import command_group
#     search = command_group(sub, "policy").add_parser("search", help=...)
# in its own ``register(sub)``; whichever module runs first creates the group, so the order in cli.py does not
# matter. Keyed weakly by the top-level subparsers so each build_parser() call gets fresh groups.
_GROUPS: weakref.WeakKeyDictionary[SubParsers, dict[str, SubParsers]] = weakref.WeakKeyDictionary()
_HELP = {"org": "the organisation: regions, staff, duty rosters, places", "policy": "the policy knowledge base"}


def command_group(sub: SubParsers, name: str) -> SubParsers:
    """The sub-subparsers of group ``name`` (``gridbot NAME ACTION``), created on first use."""
    groups = _GROUPS.setdefault(sub, {})
    if name not in groups:
        parser = sub.add_parser(name, help=_HELP.get(name))
        groups[name] = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)
    return groups[name]


def register(sub: SubParsers) -> None:
    """Add ``org import``, ``org export`` and ``policy import``."""
    org = command_group(sub, "org")
    org_import = org.add_parser("import", help="import an org workbook (.xlsx) or a folder of CSV files")
    org_import.add_argument("file", type=Path, help="org.xlsx or a folder with regions.csv, staff.csv, …")
    org_import.set_defaults(func=cmd_org_import)
    org_export = org.add_parser("export", help="export the org as .xlsx (plus .boundaries.geojson) or CSV folder")
    org_export.add_argument("file", type=Path, help="a name ending in .xlsx, or a folder for CSV files")
    org_export.set_defaults(func=cmd_org_export)
    policy_import = command_group(sub, "policy").add_parser("import", help="import policies (JSONL, CSV or XLSX)")
    policy_import.add_argument("file", type=Path, help="policies.jsonl, .csv or .xlsx (first sheet)")
    policy_import.set_defaults(func=cmd_policy_import)


def _run(path: Path, work: Callable[[Session], str], *, must_exist: bool = True) -> int:
    """Check the file, run ``work`` in one unit of work and print its one-line summary."""
    if must_exist and not path.exists():
        raise OperatorError(f"{path}: no such file or folder")
    with operator_session() as session:
        print(work(session))
    return 0


def cmd_org_import(args: argparse.Namespace) -> int:
    """Import the org workbook or CSV folder, all or nothing."""
    from core.importing.org import import_org

    return _run(args.file, lambda session: import_org(session, args.file).line())


def cmd_org_export(args: argparse.Namespace) -> int:
    """Export the org to a workbook or a CSV folder."""
    from core.importing.org import export_org

    def work(session: Session) -> str:
        counts = export_org(session, args.file)
        return f"exported {args.file}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())

    return _run(args.file, work, must_exist=False)


def cmd_policy_import(args: argparse.Namespace) -> int:
    """Import policies, all or nothing; changed ones get a new updated_at."""
    from core.importing.policies import import_policies

    now = datetime.now(UTC)
    return _run(args.file, lambda session: import_policies(session, args.file, now=now).line())
