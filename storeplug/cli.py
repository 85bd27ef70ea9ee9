"""The ``storeplug`` command: demo, serve, worker, db, tenants, plans, plugins (list, new),
openapi, vendor-users."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import uvicorn

from core.errors import AppError
from core.jobs import SaqQueue
from core.runtime import Runtime
from core.settings import Settings, SettingsError, load_settings
from storeplug import openapi, scaffold
from storeplug.demo import run_demo
from storeplug.runtime import build_plugins, build_runtime, database_revision, upgrade_database
from tenants import schemas, service, vendor_users

T = TypeVar("T")


def _with_runtime(settings: Settings, action: Callable[[Runtime], Awaitable[T]]) -> T:
    async def run() -> T:
        runtime = build_runtime(settings)
        try:
            return await action(runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())


def _print_json(value: Any) -> None:
    print(msgspec.json.format(msgspec.json.encode(value)).decode())


# ---- commands ----------------------------------------------------------------------------


def cmd_db(settings: Settings, args: argparse.Namespace) -> None:
    if args.action == "upgrade":
        upgrade_database(settings)
        print("database is at head")
    else:
        print(database_revision(settings) or "empty database")


def cmd_plans(settings: Settings, args: argparse.Namespace) -> None:
    if args.action == "list":
        _print_json(_with_runtime(settings, service.list_plans))
        return
    plugins = [p for p in (args.plugins or "").split(",") if p]
    data = schemas.PlanIn(code=args.code, name=args.name or args.code, plugins=plugins)
    _print_json(_with_runtime(settings, lambda rt: service.put_plan(rt, data)))


def cmd_tenants(settings: Settings, args: argparse.Namespace) -> None:
    action: Callable[[Runtime], Awaitable[Any]]
    if args.action == "create":
        data = msgspec.convert(
            {"slug": args.slug, "name": args.name, "plan": args.plan}, schemas.TenantCreate
        )
        action = lambda rt: service.onboard(rt, data)  # noqa: E731
    elif args.action == "list":
        action = lambda rt: service.list_tenants(rt, 100, args.cursor, None)  # noqa: E731
    else:
        status = "suspended" if args.action == "suspend" else "active"
        action = lambda rt: service.set_status(rt, args.slug, status)  # noqa: E731
    _print_json(_with_runtime(settings, action))


def cmd_vendor_users(settings: Settings, args: argparse.Namespace) -> None:
    """The vendor console's operators. ``create`` and ``reset-password`` print a one-time
    password, changed at the first sign-in."""
    action: Callable[[Runtime], Awaitable[Any]]
    if args.action == "list":
        action = vendor_users.list_users
    elif not args.username:
        raise SettingsError(f"vendor-users {args.action} needs a username")
    elif args.action == "create":
        data = msgspec.convert(
            {"username": args.username, "display_name": args.display_name or ""},
            schemas.VendorUserCreate,
        )
        action = lambda rt: vendor_users.create(rt, data)  # noqa: E731
    elif args.action == "reset-password":
        action = lambda rt: vendor_users.reset_password(rt, args.username)  # noqa: E731
    else:
        active = args.action == "activate"
        action = lambda rt: vendor_users.set_active(rt, args.username, active)  # noqa: E731
    _print_json(_with_runtime(settings, action))


def cmd_plugins(settings: Settings, args: argparse.Namespace) -> None:
    if args.action == "new":
        if not args.name:
            raise SettingsError("plugins new needs a NAME, e.g. `storeplug plugins new stamp_card`")
        try:
            target = scaffold.new_plugin(args.name, Path(args.into))
        except scaffold.ScaffoldError as exc:
            raise SettingsError(str(exc)) from None
        print(f"wrote {target}; next: pip install -e '{target}[test]' && pytest {target}")
        return
    registry = build_plugins(settings)
    for name, meta in sorted(registry.metas.items()):
        print(f"{name:20} {meta.version:10} {meta.title} — {meta.description}")
    if not registry.metas:
        print("no feature plugins installed")


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> None:
    text = openapi.render(openapi.build_document(args.surface))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.vendor_token or not settings.secret_key:
        raise SettingsError("serve needs STOREPLUG_VENDOR_TOKEN and STOREPLUG_SECRET_KEY")
    if settings.workers > 1 and not settings.redis_url:
        raise SettingsError(
            "STOREPLUG_WORKERS > 1 needs STOREPLUG_REDIS_URL: worker processes share caches "
            "and jobs through Redis"
        )
    uvicorn.run(
        "storeplug.asgi:create",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # A worker that takes longer than uvicorn's 5 s to answer its supervisor's ping (its
        # imports on a busy host) is killed and restarted, over and over: give it 30 s.
        timeout_worker_healthcheck=30,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level.lower(),
        access_log=False,
    )


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.redis_url:
        raise SettingsError(
            "worker needs STOREPLUG_REDIS_URL; without Redis, jobs run inside `storeplug serve`"
        )

    async def run(runtime: Runtime) -> None:
        queue = runtime.jobs
        assert isinstance(queue, SaqQueue)
        await queue.run_worker(concurrency=args.concurrency)

    _with_runtime(settings, run)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    run_demo(settings, port=args.port, seed_only=args.seed_only)


# ---- parsing -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storeplug", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="migrate and seed a SQLite demo store, then serve it")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--seed-only", action="store_true", help="seed and exit without serving")
    demo.set_defaults(func=cmd_demo)

    sub.add_parser("serve", help="production server (STOREPLUG_WORKERS processes)").set_defaults(
        func=cmd_serve
    )
    worker = sub.add_parser("worker", help="run background jobs from Redis")
    worker.add_argument("--concurrency", type=int, default=10)
    worker.set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "current"])
    db.set_defaults(func=cmd_db)

    plans = sub.add_parser("plans", help="vendor plans")
    plans.add_argument("action", choices=["list", "put"])
    plans.add_argument("code", nargs="?")
    plans.add_argument("--name")
    plans.add_argument("--plugins", help="comma-separated plugin names the plan includes")
    plans.set_defaults(func=cmd_plans)

    tenants = sub.add_parser("tenants", help="merchants on this deployment")
    tenants.add_argument("action", choices=["create", "list", "suspend", "resume"])
    tenants.add_argument("slug", nargs="?")
    tenants.add_argument("--name")
    tenants.add_argument("--plan")
    tenants.add_argument("--cursor")
    tenants.set_defaults(func=cmd_tenants)

    operators = sub.add_parser("vendor-users", help="operators of the vendor console")
    operators.add_argument(
        "action", choices=["create", "list", "reset-password", "deactivate", "activate"]
    )
    operators.add_argument("username", nargs="?")
    operators.add_argument("--display-name")
    operators.set_defaults(func=cmd_vendor_users)

    plugins = sub.add_parser("plugins", help="installed feature plugins; a new plugin package")
    plugins.add_argument("action", choices=["list", "new"])
    plugins.add_argument("name", nargs="?", help="new: the plugin's name (e.g. stamp_card)")
    plugins.add_argument("--into", default=".", help="new: the folder to write it in")
    plugins.set_defaults(func=cmd_plugins)

    spec = sub.add_parser("openapi", help="the OpenAPI document, stable for client generators")
    spec.add_argument("--surface", choices=sorted(openapi.SURFACES), default="store")
    spec.add_argument("--output", "-o", default="-", help="a file (default: standard output)")
    spec.set_defaults(func=cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "demo":
            settings = demo_settings(settings)
        args.func(settings, args)
    except SettingsError as exc:
        print(f"storeplug: {exc}", file=sys.stderr)
        return 2
    except AppError as exc:
        print(f"storeplug: {exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def demo_settings(settings: Settings) -> Settings:
    """The demo keeps its secret next to its database so restarts read the same data."""
    secret_file = Path(os.environ.get("STOREPLUG_DEMO_SECRET_FILE", ".storeplug-demo-secret"))
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(48))
        secret_file.chmod(0o600)
    return msgspec.structs.replace(
        settings,
        secret_key=settings.secret_key or secret_file.read_text().strip(),
        vendor_token=settings.vendor_token or "spv_" + secrets.token_urlsafe(24),
        workers=1,
        # The demo pays with the sandbox provider: no WeChat Pay, no money.
        allow_sandbox_payments=True,
    )


if __name__ == "__main__":
    sys.exit(main())
