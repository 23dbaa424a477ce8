"""``vcval serve`` (run the server, and ``vcval serve admin ...``) and ``vcval upload``. Only argparse is
imported here; each handler imports the server when it runs, so ``vcval --help`` stays fast."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmark.protocol import DEFAULT_PROTOCOL

ADMIN_COMMANDS = ("add-team", "revoke-token", "list-teams", "add-baseline", "reveal-names", "reveal-private",
                  "rescore", "verify-log")


def register(subparsers) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=None, help="data folder holding the hidden split")
    common.add_argument("--protocol", default=DEFAULT_PROTOCOL, help=f"protocol (default {DEFAULT_PROTOCOL})")
    common.add_argument("--db", default="sqlite:///vcval-server.db",
                        help="SQLAlchemy URL (default sqlite:///vcval-server.db; e.g. postgresql+psycopg://...)")
    common.add_argument("--store", type=Path, default=Path("submissions"),
                        help="submissions store for the scored entries (default submissions/)")
    common.add_argument("--daily-quota", type=int, default=5, help="scored submissions per team per UTC day (5)")
    common.add_argument("--total-quota", type=int, default=100, help="scored submissions per team in total (100)")
    common.add_argument("--daily-failures", type=int, default=50, help="refused uploads per team per UTC day (50)")
    common.add_argument("--max-upload-mb", type=float, default=64, help="upload size limit in MB (64)")
    common.add_argument("--max-expanded-mb", type=float, default=512, help="limit of what a gzip expands to (512)")
    common.add_argument("--public-default", choices=("none", "best"), default="none",
                        help="board entry of a team that chose none: none (default) or its best")
    common.add_argument("--public-questions", type=int, default=0,
                        help="size of the seeded public subset the live board scores (0: every question)")
    common.add_argument("--public-seed", type=int, default=0, help="seed of the public subset (0)")

    serve = subparsers.add_parser("serve", parents=[common], help="run the hidden-test evaluation server",
                                  description="Serve a hidden test: teams upload predictions and get scores; "
                                              "the answers never leave the server. See docs/server.md.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (8000)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1)")
    serve.set_defaults(handler=_serve)
    admin = serve.add_subparsers(dest="serve_command", metavar="admin").add_parser(
        "admin", help="the organiser's commands").add_subparsers(dest="admin_command", metavar="COMMAND",
                                                                  required=True)
    helps = {"add-team": "add a team and print its token (once)", "revoke-token": "revoke a team's token",
             "list-teams": "teams, tokens and quotas", "add-baseline": "score a file as a baseline entry",
             "reveal-names": "show the names of anonymous entries", "reveal-private": "score the board on every question",
             "rescore": "rescore every entry with the installed scorer", "verify-log": "check the audit log's chain"}
    for command in ADMIN_COMMANDS:
        parser = admin.add_parser(command, parents=[common], help=helps[command])
        parser.set_defaults(handler=_admin, admin_command=command)
        if command in ("add-team", "revoke-token"):
            parser.add_argument("name", help="team name")
        if command == "revoke-token":
            parser.add_argument("--reissue", action="store_true", help="give the team a new token")
        if command == "add-baseline":
            parser.add_argument("predictions", type=Path, help="predictions JSONL (optionally .gz)")
            parser.add_argument("--name", required=True, help="the baseline's method name")
            parser.add_argument("--description", default="", help="one line on what it is")

    upload = subparsers.add_parser("upload", help="upload a predictions file to an evaluation server",
                                   description="Upload predictions to `vcval serve`: prints the scores, or the "
                                               "validator's problems (exit 1); other refusals exit 2.")
    upload.add_argument("predictions", type=Path, help="predictions JSONL (optionally .gz)")
    upload.add_argument("--server", required=True, help="server URL, e.g. http://127.0.0.1:8000")
    upload.add_argument("--token", default=os.environ.get("VCVAL_TOKEN"), help="team token (or $VCVAL_TOKEN)")
    upload.add_argument("--name", default="", help="method name (required unless --dry-run)")
    upload.add_argument("--description", default="")
    upload.add_argument("--authors", default="")
    upload.add_argument("--code-url", default="")
    upload.add_argument("--paper-url", default="")
    upload.add_argument("--anonymous", action="store_true", help="show 'anonymous' until the organiser reveals names")
    upload.add_argument("--dry-run", action="store_true", help="only validate: no scoring, no quota spent")
    upload.add_argument("--json", action="store_true", help="print the server's reply as JSON")
    upload.set_defaults(handler=_upload)


def settings_from(args: argparse.Namespace):
    from server.settings import ServerSettings

    return ServerSettings(
        data_dir=str(args.data_dir or ""), protocol=args.protocol, db_url=args.db, store=str(args.store),
        daily_quota=args.daily_quota, total_quota=args.total_quota, daily_failures=args.daily_failures,
        max_upload_bytes=int(args.max_upload_mb * (1 << 20)), max_expanded_bytes=int(args.max_expanded_mb * (1 << 20)),
        public_default=args.public_default, public_questions=args.public_questions, public_seed=args.public_seed)


def _need_data(args: argparse.Namespace) -> None:
    from benchmark.errors import ConfigError

    if args.data_dir is None:
        raise ConfigError("--data-dir is required: the server scores against that folder's hidden split")


def _serve(args: argparse.Namespace) -> int:
    _need_data(args)
    import uvicorn

    from server.app import SETTINGS_ENV
    from server.service import make_service

    settings = settings_from(args)
    service = make_service(settings)  # creates the tables and loads the data once, before any worker
    recovered = service.recover()
    if recovered:
        print(f"resolved {len(recovered)} submission(s) a stopped server left in scoring: {recovered}")
    service.db.dispose()
    os.environ[SETTINGS_ENV] = settings.to_json()
    print(f"serving split '{service.challenge.split.name}' ({service.challenge.n_questions} questions, protocol "
          f"{service.challenge.protocol.name}) on http://{args.host}:{args.port}", flush=True)
    uvicorn.run("server.app:app_from_environment", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="info", timeout_graceful_shutdown=30)
    return 0


def _admin(args: argparse.Namespace) -> int:
    from server import admin, audit
    from server.db import Database
    from server.service import Refused, Service, make_service

    settings = settings_from(args)
    command = args.admin_command
    if command in ("add-baseline", "rescore"):
        _need_data(args)
        service = make_service(settings)
    else:  # no data needed: the service is used for its database only
        db = Database(settings.db_url, settings.busy_timeout_s)
        db.create_tables()
        service = Service(settings, db, challenge=None)  # type: ignore[arg-type]
    try:
        if command == "add-team":
            print(admin.add_team(service, args.name))
        elif command == "revoke-token":
            token = admin.revoke_token(service, args.name, args.reissue)
            print(token if token else f"revoked the token of {args.name!r}")
        elif command == "list-teams":
            for row in admin.list_teams(service):
                print(json.dumps(row))
        elif command == "add-baseline":
            result = admin.add_baseline(service, args.predictions, args.name, args.description)
            print(f"baseline entry {result['submission']} scored: " + _headline(result))
        elif command in ("reveal-names", "reveal-private"):
            done = admin.reveal_names(service) if command == "reveal-names" else admin.reveal_private(service)
            print(f"{command}: {'done' if done else 'already done'}")
        elif command == "rescore":
            rows = admin.rescore(service)
            print(f"rescored {len(rows)} entries with scorer {rows[0]['scorer_version'] if rows else '-'}")
        elif command == "verify-log":
            result = audit.verify(service.db)
            if result.ok:
                print(f"audit log verified: {result.rows} rows, chain intact")
                return 0
            print(f"audit log broken at row {result.first_broken}: {result.reason}", file=sys.stderr)
            return 1
    except admin.AdminError as error:
        print(f"vcval serve admin {command}: error: {error}", file=sys.stderr)
        return 2
    except Refused as refused:
        print(f"vcval serve admin {command}: {refused.message}", file=sys.stderr)
        for problem in refused.problems:
            print(f"  {problem['text']}", file=sys.stderr)
        return 1
    return 0


def _headline(result: dict) -> str:
    scores = result.get("scores") or {}
    return ", ".join(f"{key} {value:.2f} [{scores['ci'][key][0]:.2f}, {scores['ci'][key][1]:.2f}]"
                     for key, value in list(scores.get("metrics", {}).items())[:4])


def _upload(args: argparse.Namespace) -> int:
    from benchmark.errors import ConfigError
    from server.client import ServerError, upload

    if not args.token:
        raise ConfigError("--token (or $VCVAL_TOKEN) is required")
    if not args.dry_run and not args.name.strip():
        raise ConfigError("--name is required to submit (the method's name on the board)")
    fields = {"method": args.name, "description": args.description, "authors": args.authors,
              "code_url": args.code_url, "paper_url": args.paper_url, "anonymous": "true" if args.anonymous else ""}
    reply = upload(args.predictions, args.server, args.token, fields, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(reply.body, indent=2))
    if reply.status in (200, 201):
        if not args.json:
            _print_success(args, reply.body)
        return 0
    problems = reply.body.get("problems") or []
    if reply.status == 422 and problems:
        print(f"{args.predictions}: invalid ({reply.body.get('detail', '')})", file=sys.stderr)
        for problem in problems:
            print(f"  {problem['text']}", file=sys.stderr)
        print(f"{len(problems)} problem(s) listed", file=sys.stderr)
        return 1
    resets = f" (resets at {reply.body['resets_at']})" if reply.body.get("resets_at") else ""
    raise ServerError(f"the server refused the upload (HTTP {reply.status}): {reply.body.get('detail')}{resets}")


def _print_success(args: argparse.Namespace, body: dict) -> None:
    if args.dry_run:
        print(f"{args.predictions}: valid for split '{body.get('split')}' ({body.get('questions')} questions)")
        return
    scores = body["scores"]
    print(f"scored entry {body['submission']} '{body['method']}' on {scores['n_questions']} questions "
          f"({scores['subset']}), scorer {scores['scorer_version']}, answer key {scores['answer_key_sha256']}")
    for key, value in scores["metrics"].items():
        low, high = scores["ci"][key]
        print(f"  {key:<14} {value:6.2f}  [{low:6.2f}, {high:6.2f}]")
    quota = body["quota"]
    print(f"scored submissions left: {quota['left']} (daily count resets at {quota['resets_at']})")
