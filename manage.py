"""Operator commands: `python manage.py migrate` (the Procfile's release step), `status`."""

from __future__ import annotations

import argparse
import sys

from config import Settings
from models import db as dbmod
from models.migrate import apply_all, runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="manage.py")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending schema migrations (idempotent)")
    sub.add_parser("status", help="list migrations and whether they are applied")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    db = dbmod.connect(settings.database_url)
    if args.command == "migrate":
        applied = apply_all(db)
        print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    else:
        for migration in runner(db).status():
            print(f"{'applied' if migration.applied else 'pending':8} {migration.name}")
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
