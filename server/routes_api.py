"""The JSON API. Writes need ``Authorization: Bearer TOKEN``; the board needs nothing. Each route checks,
in order, the token, the size (while the body streams in), then the file, and hands the work to
:class:`server.service.Service` in a worker thread."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from server.board import current_board
from server.metadata import MetadataError, check_metadata
from server.models import Team
from server.service import Refused, Service
from server.uploads import SavedUpload, UploadTooLarge, save_upload

router = APIRouter(prefix="/api")
MAX_FIELD_BYTES = 16 << 10
TRUE_WORDS = ("1", "true", "yes", "on")


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def current_team(request: Request, service: ServiceDep) -> Team:
    return await run_in_threadpool(service.authenticate, bearer_token(request))


TeamDep = Annotated[Team, Depends(current_team)]


@asynccontextmanager
async def received_upload(request: Request, service: Service) -> AsyncIterator[tuple[SavedUpload, FormData]]:
    """The multipart form's ``file`` copied to a private temporary folder (removed afterwards), and the form."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > service.settings.max_upload_bytes + (64 << 10):
        raise UploadTooLarge(f"the upload is larger than the server's limit of {service.settings.max_upload_bytes} bytes")
    form = await request.form(max_files=1, max_fields=20, max_part_size=MAX_FIELD_BYTES)
    service.settings.upload_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=service.settings.upload_dir))
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Refused(400, "the form has no file: send the predictions as the multipart field 'file'")
        settings = service.settings
        saved = await run_in_threadpool(save_upload, upload.file, work / "upload", upload.filename,
                                        settings.max_upload_bytes, settings.max_expanded_bytes)
        yield saved, form
    finally:
        await form.close()
        shutil.rmtree(work, ignore_errors=True)


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def metadata_from_form(form: FormData):
    try:
        return check_metadata(form_text(form, "method"), form_text(form, "description"), form_text(form, "authors"),
                              form_text(form, "code_url"), form_text(form, "paper_url"),
                              form_text(form, "anonymous").lower() in TRUE_WORDS)
    except MetadataError as error:
        raise Refused(422, str(error)) from error


@router.get("/health")
def health(service: ServiceDep) -> dict:
    challenge = service.challenge
    return {"ok": True, "split": challenge.split.name, "questions": challenge.n_questions,
            "protocol": challenge.protocol.name, "protocol_hash": challenge.protocol.hash[:12],
            "task": challenge.task}


@router.get("/board")
def board(service: ServiceDep) -> dict:
    return current_board(service).to_dict()


@router.post("/validate")
async def validate(request: Request, team: TeamDep,
                   service: ServiceDep) -> JSONResponse:
    async with received_upload(request, service) as (saved, _form):
        result = await run_in_threadpool(service.validate, team, saved)
    return JSONResponse(result, status_code=200 if result["valid"] else 422)


@router.post("/submissions", status_code=201)
async def submit(request: Request, team: TeamDep,
                 service: ServiceDep) -> dict:
    async with received_upload(request, service) as (saved, form):
        metadata = metadata_from_form(form)
        return await run_in_threadpool(service.submit, team, saved, metadata)


@router.get("/teams/me")
def my_team(team: TeamDep, service: ServiceDep) -> dict:
    return service.team_view(team)


@router.put("/teams/me/public/{submission_id}")
def choose_public(submission_id: int, team: TeamDep,
                  service: ServiceDep) -> dict:
    return service.choose_public(team, submission_id)
