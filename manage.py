"""Operator commands: `python manage.py migrate` (the Procfile's release step), `status`,
`create-category NAME [--slug SLUG]`, `make-admin EMAIL`, `sweep-media [--grace-seconds N]`."""

from __future__ import annotations

import argparse
import sys

from config import Settings
from models import db as dbmod
from models.identity import User
from models.migrate import apply_all, runner
from services import catalogue
from services.storage import storage_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="manage.py")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending schema migrations (idempotent)")
    sub.add_parser("status", help="list migrations and whether they are applied")
    category = sub.add_parser("create-category", help="add a product category (idempotent by slug)")
    category.add_argument("name")
    category.add_argument("--slug", help="URL-safe identifier; derived from the name by default")
    admin = sub.add_parser("make-admin", help="give an existing user access to the operators' dashboard")
    admin.add_argument("email")
    sweep = sub.add_parser("sweep-media", help="delete image files without rows, and rows without files")
    sweep.add_argument("--grace-seconds", type=int, default=3600,
                       help="leave files younger than this alone (uploads in progress)")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    db = dbmod.connect(settings.database_url)
    if args.command == "migrate":
        applied = apply_all(db)
        print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    elif args.command == "create-category":
        created = catalogue.create_category(args.name, args.slug)
        print(f"category {created.id} {created.slug} {created.name}")
    elif args.command == "make-admin":
        changed = User.update(is_admin=True).where(User.email == args.email.strip().lower()).execute()
        print(f"{args.email} is now an operator" if changed else f"no user {args.email}")
        if not changed:
            return 1
    elif args.command == "sweep-media":
        report = catalogue.sweep_media(storage_for(settings), args.grace_seconds)
        print(f"removed {report.stray_files} stray file(s), {report.rows_without_files} row(s) without files")
    else:
        for migration in runner(db).status():
            print(f"{'applied' if migration.applied else 'pending':8} {migration.name}")
    db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
