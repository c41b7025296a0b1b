"""``ktp serve``: run the extractor service under uvicorn.

Every option has an environment variable (``KTP_SERVE_*``); an option given on the command line
wins. Cheap to import: FastAPI, uvicorn and the engine load only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys

_TRUE = {"1", "true", "yes", "on"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_flag(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in _TRUE


def register(subparsers: argparse._SubParsersAction) -> None:
    # Defaults from the environment stay strings: argparse converts them with ``type`` only when
    # `serve` actually runs, so a malformed variable cannot break `ktp --help` or other commands.
    parser = subparsers.add_parser(
        "serve",
        help="run the KTP extractor HTTP service (Extract-KTP-Async contract)",
        description="Run the KTP extractor service. Options default to the KTP_SERVE_* environment variables.",
    )
    parser.add_argument("--host", default=_env("KTP_SERVE_HOST", "127.0.0.1"), help="bind address [KTP_SERVE_HOST]")
    parser.add_argument("--port", type=int, default=_env("KTP_SERVE_PORT", "8080"), help="[KTP_SERVE_PORT]")
    parser.add_argument(
        "--data-dir", default=_env("KTP_SERVE_DATA_DIR", "./ktp-extractor-data"),
        help="SQLite database and pending images [KTP_SERVE_DATA_DIR]",
    )
    parser.add_argument(
        "--workers", type=int, default=_env("KTP_SERVE_WORKERS", str(os.cpu_count() or 1)),
        help="OCR worker processes (default: CPU count) [KTP_SERVE_WORKERS]",
    )
    parser.add_argument(
        "--app", action="append", default=None, metavar="APP_ID:API_KEY[:CALLBACK_USER:CALLBACK_PASSWORD]",
        help="a client application; repeatable [KTP_SERVE_APPS, comma-separated]",
    )
    parser.add_argument(
        "--local", action="store_true", default=_env_flag("KTP_SERVE_LOCAL"),
        help="allow http:// callback and image URLs on loopback [KTP_SERVE_LOCAL=1]",
    )
    parser.add_argument(
        "--sandbox", action="store_true", default=_env_flag("KTP_SERVE_SANDBOX"),
        help="answer the contract's sandbox codes instead of running OCR [KTP_SERVE_SANDBOX=1]",
    )
    parser.add_argument(
        "--quota", type=int, default=_env("KTP_SERVE_QUOTA"),
        help="testing-mode quota: accepted submissions per application [KTP_SERVE_QUOTA]",
    )
    parser.add_argument(
        "--submit-rate", type=float, default=_env("KTP_SERVE_SUBMIT_RATE", "20"),
        help="default submits per second per application, 0 = unlimited [KTP_SERVE_SUBMIT_RATE]",
    )
    parser.add_argument(
        "--submit-burst", type=int, default=_env("KTP_SERVE_SUBMIT_BURST", "50"),
        help="default submit burst per application [KTP_SERVE_SUBMIT_BURST]",
    )
    parser.add_argument(
        "--app-rate", action="append", default=None, metavar="APP_ID=RATE[:BURST]",
        help="one application's own submit rate (0 = unlimited); repeatable [KTP_SERVE_APP_RATES, comma-separated]",
    )
    parser.add_argument(
        "--retention-hours", type=float, default=_env("KTP_SERVE_RETENTION_HOURS", "72"),
        help="how long finished results stay fetchable [KTP_SERVE_RETENTION_HOURS]",
    )
    parser.add_argument(
        "--purge-interval", type=float, default=_env("KTP_SERVE_PURGE_INTERVAL_SECONDS", "60"),
        help="seconds between retention purges [KTP_SERVE_PURGE_INTERVAL_SECONDS]",
    )
    parser.add_argument(
        "--callback-max-attempts", type=int, default=_env("KTP_SERVE_CALLBACK_MAX_ATTEMPTS", "8"),
        help="delivery attempts per callback [KTP_SERVE_CALLBACK_MAX_ATTEMPTS]",
    )
    parser.add_argument(
        "--callback-backoff", type=float, default=_env("KTP_SERVE_CALLBACK_BACKOFF_SECONDS", "2"),
        help="first retry delay in seconds, doubled per attempt [KTP_SERVE_CALLBACK_BACKOFF_SECONDS]",
    )
    parser.add_argument(
        "--engine", default=_env("KTP_SERVE_ENGINE", "extractor.engine"),
        help="module providing extract() and warm_up() [KTP_SERVE_ENGINE]",
    )
    parser.add_argument("--log-level", default=_env("KTP_SERVE_LOG_LEVEL", "INFO"), help="[KTP_SERVE_LOG_LEVEL]")
    parser.set_defaults(func=serve)


def build_settings(args: argparse.Namespace):
    from pathlib import Path

    from extractor.service.settings import AppCredentials, ServiceSettings

    from extractor.service.settings import parse_app_rate

    specs = args.app if args.app else [s for s in (_env("KTP_SERVE_APPS", "") or "").split(",") if s.strip()]
    apps = [AppCredentials.parse(spec) for spec in specs]
    rate_specs = args.app_rate if args.app_rate else [s for s in (_env("KTP_SERVE_APP_RATES", "") or "").split(",") if s.strip()]
    for rate_spec in rate_specs:
        app_id, rate, burst = parse_app_rate(rate_spec)
        matches = [n for n, app in enumerate(apps) if app.app_id == app_id]
        if not matches:
            raise ValueError("--app-rate names an App-ID that no --app configures")
        for n in matches:  # validated again, so a negative rate is refused like any bad setting
            apps[n] = AppCredentials.model_validate({**apps[n].model_dump(), "submit_rate": rate, "submit_burst": burst})
    return ServiceSettings(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        workers=args.workers,
        apps=tuple(apps),
        local=args.local,
        sandbox=args.sandbox,
        quota=args.quota,
        submit_rate=args.submit_rate,
        submit_burst=args.submit_burst,
        retention_hours=args.retention_hours,
        purge_interval_seconds=args.purge_interval,
        callback_max_attempts=args.callback_max_attempts,
        callback_backoff_seconds=args.callback_backoff,
        engine_module=args.engine,
    )


def serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    try:
        settings = build_settings(args)
    except (ValidationError, ValueError) as exc:
        # Messages may echo the --app spec; print only which setting is wrong.
        where = [".".join(map(str, e["loc"])) for e in exc.errors()] if isinstance(exc, ValidationError) else ["--app/--app-rate"]
        print(f"ktp serve: invalid configuration: {', '.join(where)}", file=sys.stderr)
        return 2
    if not settings.apps:
        print("ktp serve: configure at least one application with --app or KTP_SERVE_APPS", file=sys.stderr)
        return 2

    import uvicorn

    from extractor.service import logs
    from extractor.service.app import create_app

    logs.configure(args.log_level.upper())
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    return 0
