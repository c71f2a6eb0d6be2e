"""Agreement-study pages (paper, section 3.2.4 and appendix 2.4).

An admin creates a study (batches and labelers), follows its progress, runs the analysis with
chosen grid sizes, unit rule and bootstrap settings, reads each kept run as a table laid out like
the paper's Table 1 and appendix Table 4, and looks at single images the way appendix Figure 5
shows them. Forms post with a ``csrf_token`` field and work without JavaScript; htmx only
refreshes the status table and swaps pictures in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, func, select

from backend.agreement import DEFAULT_GRIDS, UnitRule
from backend.api.deps import Principal, SessionDep
from backend.models import AgreementStudy, Batch, BatchItem, Role, User
from backend.services import agreement_picture as pictures
from backend.services import agreement_runs as runs
from backend.services import agreement_study as studies
from backend.views.admin.common import AdminForm, AdminPage, AdminRoute, is_htmx, render

router = APIRouter(prefix="/admin/agreement", include_in_schema=False, route_class=AdminRoute)

FormList = Annotated[list[str] | None, Form()]

GRID_CHOICES = (1, 2, 4, 8, 16, 32)
PICTURE_DEFAULT_N = 4
NAV = "agreement"


def _page(
    request: Request, template: str, admin: Principal, code: int = 200, **extra: Any
) -> HTMLResponse:
    return render(request, template, admin, status_code=code, nav=NAV, **extra)


def _message(request: Request, admin: Principal, text: str, code: int) -> HTMLResponse:
    return _page(request, "admin/agreement/message.html", admin, code, message=text)


def _parse_ids(values: Sequence[str] | None, what: str) -> list[int]:
    ids = []
    for value in values or []:
        try:
            ids.append(int(value))
        except ValueError:
            raise studies.StudyInputError(f"{what} id {value!r} is not a number") from None
    return ids


def _parse_int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise studies.StudyInputError(f"{what} {value!r} is not a whole number") from None


def _parse_grids(values: Sequence[str] | None) -> list[int]:
    """Grid sizes from ticked boxes and/or comma-separated text such as ``1,2,4,8,16``."""
    sizes = []
    for value in values or []:
        for part in value.split(","):
            if part.strip():
                sizes.append(_parse_int(part, "grid size"))
    return sizes


# --- study list and creation ----------------------------------------------------------------


def _choices(session: Session) -> dict[str, Any]:
    sizes: dict[int | None, int] = dict(
        session.exec(
            select(BatchItem.batch_id, func.count()).group_by(col(BatchItem.batch_id))
        ).all()
    )
    batches = [
        {"id": b.id, "name": b.name, "n_items": sizes.get(b.id, 0)}
        for b in session.exec(select(Batch).order_by(col(Batch.id)))
    ]
    labelers = session.exec(
        select(User)
        .where(User.role == Role.labeler, col(User.is_active).is_(True))
        .order_by(col(User.username))
    ).all()
    return {"batches": batches, "labelers": [{"id": u.id, "name": u.username} for u in labelers]}


def _index(
    request: Request,
    session: Session,
    admin: Principal,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    code: int = 200,
) -> HTMLResponse:
    rows = [
        {"study": study, "status": studies.study_status(session, study)}
        for study in studies.list_studies(session)
    ]
    return _page(
        request,
        "admin/agreement/index.html",
        admin,
        code,
        studies=rows,
        error=error,
        form=form or {"name": "", "batch_ids": [], "labeler_ids": []},
        **_choices(session),
    )


@router.get("", response_class=HTMLResponse)
def index_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    return _index(request, session, admin)


@router.post("", response_model=None)
def create_submit(
    request: Request,
    session: SessionDep,
    admin: AdminForm,
    name: Annotated[str, Form(max_length=512)] = "",
    batch_ids: FormList = None,
    labeler_ids: FormList = None,
) -> Response:
    form = {"name": name, "batch_ids": batch_ids or [], "labeler_ids": labeler_ids or []}
    try:
        study = studies.create_study(
            session,
            name=name,
            batch_ids=_parse_ids(batch_ids, "batch"),
            labeler_ids=_parse_ids(labeler_ids, "labeler"),
            created_by=admin.user,
        )
    except studies.StudyInputError as exc:
        session.rollback()
        return _index(request, session, admin, error=str(exc), form=form, code=422)
    return RedirectResponse(f"/admin/agreement/{study.id}", status.HTTP_303_SEE_OTHER)


# --- one study: status, runs ----------------------------------------------------------------


def _study_or_404(
    request: Request, session: Session, admin: Principal, study_id: int
) -> AgreementStudy | HTMLResponse:
    study = session.get(AgreementStudy, study_id)
    if study is None:
        return _message(request, admin, "No such agreement study.", 404)
    return study


def _study_page(
    request: Request,
    session: Session,
    admin: Principal,
    study: AgreementStudy,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    code: int = 200,
) -> HTMLResponse:
    defaults = runs.RunParams()
    # htmx polls the status widget alone; a form post always gets the whole page back.
    fragment = is_htmx(request) and request.method == "GET"
    return _page(
        request,
        "admin/agreement/partials/status.html" if fragment else "admin/agreement/study.html",
        admin,
        code,
        study=study,
        status=studies.study_status(session, study),
        runs=runs.list_runs(session, study),
        error=error,
        form=form
        or {
            "grids": [str(n) for n in DEFAULT_GRIDS],
            "rule": defaults.rule.value,
            "bootstrap": str(defaults.bootstrap),
            "seed": str(defaults.seed),
        },
        grid_choices=GRID_CHOICES,
        rules=[r.value for r in UnitRule],
        max_bootstrap=runs.MAX_BOOTSTRAP,
        max_grid=studies.MAX_GRID,
    )


@router.get("/{study_id}", response_class=HTMLResponse)
def study_page(
    study_id: int, request: Request, session: SessionDep, admin: AdminPage
) -> HTMLResponse:
    study = _study_or_404(request, session, admin, study_id)
    if isinstance(study, HTMLResponse):
        return study
    return _study_page(request, session, admin, study)


@router.post("/{study_id}/runs", response_model=None)
def run_submit(
    study_id: int,
    request: Request,
    session: SessionDep,
    admin: AdminForm,
    grids: FormList = None,
    rule: Annotated[str, Form(max_length=32)] = UnitRule.PAPER.value,
    bootstrap: Annotated[str, Form(max_length=32)] = "1000",
    seed: Annotated[str, Form(max_length=32)] = "0",
) -> Response:
    study = _study_or_404(request, session, admin, study_id)
    if isinstance(study, HTMLResponse):
        return study
    form = {"grids": grids or [], "rule": rule, "bootstrap": bootstrap, "seed": seed}
    try:
        params = runs.run_params(
            grids=_parse_grids(grids),
            rule=rule,
            bootstrap=_parse_int(bootstrap, "bootstrap resamples"),
            seed=_parse_int(seed, "seed"),
        )
        run = runs.run_analysis(session, study, params, admin.user)
    except studies.StudyInputError as exc:
        session.rollback()
        return _study_page(request, session, admin, study, error=str(exc), form=form, code=422)
    return RedirectResponse(f"/admin/agreement/{study.id}/runs/{run.id}", status.HTTP_303_SEE_OTHER)


@router.get("/{study_id}/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    study_id: int, run_id: int, request: Request, session: SessionDep, admin: AdminPage
) -> HTMLResponse:
    study = _study_or_404(request, session, admin, study_id)
    if isinstance(study, HTMLResponse):
        return study
    run = runs.get_run(session, study, run_id)
    if run is None:
        return _message(request, admin, "No such run in this study.", 404)
    return _page(request, "admin/agreement/run.html", admin, study=study, run=run)


# --- pictures (appendix, Figure 5) --------------------------------------------------------


def _query_int(request: Request, key: str, default: int) -> int:
    try:
        return int(request.query_params.get(key, default))
    except ValueError:
        return default


@router.get("/{study_id}/pictures", response_class=HTMLResponse)
def picture_page(
    study_id: int, request: Request, session: SessionDep, admin: AdminPage
) -> HTMLResponse:
    study = _study_or_404(request, session, admin, study_id)
    if isinstance(study, HTMLResponse):
        return study
    index = _query_int(request, "i", 0)
    n = _query_int(request, "n", PICTURE_DEFAULT_N)
    rule = request.query_params.get("rule", UnitRule.PAPER.value)
    try:
        picture = pictures.study_picture(session, study, index, n, rule)
    except studies.ImageNotInStudyError as exc:
        return _message(request, admin, str(exc), 404)
    except studies.StudyInputError as exc:
        return _message(request, admin, str(exc), 422)
    fragment = is_htmx(request)
    return _page(
        request,
        "admin/agreement/partials/picture.html" if fragment else "admin/agreement/pictures.html",
        admin,
        study=study,
        picture=picture,
        image_url=pictures.iiif_url(picture.blind_name, picture.width),
        styles=pictures.CATEGORY_STYLES,
        grid_choices=GRID_CHOICES,
        rules=[r.value for r in UnitRule],
    )
