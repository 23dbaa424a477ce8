"""Server-rendered pages (Jinja2, autoescaped, no script): the board, the upload page and the team page.
The forms carry the token in their body (never in a URL or a cookie), so no other site can post for a team."""

from __future__ import annotations

from importlib import resources

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from benchmark.metrics import HEADLINE_METRICS
from leaderboard import escape
from server.board import current_board
from server.routes_api import ServiceDep, form_text, metadata_from_form, received_upload
from server.service import Refused, Service
from server.uploads import UploadTooLarge

router = APIRouter(include_in_schema=False)
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(resources.files("server").joinpath("templates"))),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_TEMPLATES.filters["safe_url"] = lambda url: escape.safe_url(url or "") or ""
_TEMPLATES.filters["num"] = lambda value: "–" if value is None or value != value else f"{value:.1f}"
SHOWN_METRICS = 6


def render(name: str, status: int = 200, **context) -> HTMLResponse:
    context = {"token": "", "resets_at": None, **context}
    return HTMLResponse(_TEMPLATES.get_template(name).render(**context), status_code=status)


@router.get("/")
def board_page(service: ServiceDep) -> HTMLResponse:
    board = current_board(service)
    shown = [board.primary] + [key for key in _headline(service) if key != board.primary]
    return render("board.html", board=board, columns=shown[:SHOWN_METRICS])


@router.get("/upload")
def upload_page(service: ServiceDep) -> HTMLResponse:
    return render("upload.html", challenge=service.challenge, outcome=None, error=None, problems=[])


@router.post("/upload")
async def upload_submit(request: Request, service: ServiceDep) -> HTMLResponse:
    try:
        async with received_upload(request, service) as (saved, form):
            team = await run_in_threadpool(service.authenticate, form_text(form, "token"))
            if form_text(form, "action") == "validate":
                result = await run_in_threadpool(service.validate, team, saved)
                if not result["valid"]:
                    raise Refused(422, "the file is not valid", problems=result["problems"])
                return render("upload.html", challenge=service.challenge, outcome={"validated": True},
                              error=None, problems=[], token=form_text(form, "token"))
            metadata = metadata_from_form(form)
            outcome = await run_in_threadpool(service.submit, team, saved, metadata)
            return render("upload.html", challenge=service.challenge, outcome=outcome, error=None, problems=[],
                          token=form_text(form, "token"), status=201)
    except Refused as refused:
        return render("upload.html", status=refused.status, challenge=service.challenge, outcome=None,
                      error=refused.message, problems=refused.problems, resets_at=refused.resets_at)
    except UploadTooLarge as error:
        return render("upload.html", status=413, challenge=service.challenge, outcome=None, error=str(error),
                      problems=[])


@router.get("/team")
def team_login(service: ServiceDep) -> HTMLResponse:
    return render("team.html", view=None, error=None, token="")


@router.post("/team")
async def team_page(request: Request, service: ServiceDep) -> HTMLResponse:
    form = await request.form(max_files=0, max_fields=5)
    token = form_text(form, "token")
    try:
        team = await run_in_threadpool(service.authenticate, token)
        choice = form_text(form, "public")
        if choice.isdigit():
            await run_in_threadpool(service.choose_public, team, int(choice))
        view = await run_in_threadpool(service.team_view, team)
    except Refused as refused:
        return render("team.html", status=refused.status, view=None, error=refused.message, token="")
    return render("team.html", view=view, error=None, token=token, primary=service.challenge.primary)


def _headline(service: Service) -> list[str]:
    return [key for key in HEADLINE_METRICS if key in service.challenge.keys] or list(service.challenge.keys)
