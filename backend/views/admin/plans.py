"""Study plan pages: choose halves and codecs, preview, save a version, compress, cut.

Paper, section 3.1 and appendix 1.3 (see :mod:`backend.services.plans`). The form starts from
the latest version (or the paper's defaults: A = C1, C3, C5, C6; B = C2, C3, C4, C6; low and
high; bulks of 200 images, batches of 25). "Preview" shows the counts without writing anything;
"Save" writes a new version; a version's page starts its compression and, once
reconstructions exist, previews and writes the cut into bulks and batches.

Which codecs can run is what the workers report (:mod:`backend.services.worker_reports`): a
fresh form preselects only the paper's codecs that a live worker offers, every codec is shown
with who offers it or what is missing, a plan naming an unoffered codec is saved with a warning,
and starting its compression is refused, queueing nothing, until a worker offers it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from backend.api.deps import Principal, SessionDep
from backend.models import Plan
from backend.plans.halves import CODEC_SETS, HALVES, SETTINGS
from backend.services import plan_cuts, plans, worker_reports
from backend.views.admin import router
from backend.views.admin.common import (
    AdminForm,
    AdminPage,
    FormError,
    back,
    int_field,
    is_htmx,
    page_or_fragment,
    render,
)

FormList = Annotated[list[str] | None, Form()]
Text = Annotated[str, Form(max_length=40)]


def _values_of(params: plans.PlanParams) -> dict[str, Any]:
    return {
        "seed": str(params.seed),
        "bulk_size": str(params.bulk_size),
        "batch_size": str(params.batch_size),
        "codecs_A": list(params.codec_sets["A"]),
        "codecs_B": list(params.codec_sets["B"]),
        "settings": list(params.settings),
    }


def _parse(session: Session, values: dict[str, Any]) -> plans.PlanParams:
    """Plan choices from the form; a :class:`FormError` names the first unusable field."""
    seed = int_field(values, "seed", "The seed", 0, plans.MAX_SEED)
    bulk = int_field(values, "bulk_size", "The bulk size", 1, plans.MAX_BULK_SIZE)
    batch = int_field(values, "batch_size", "The batch size", 1, plans.MAX_BATCH_SIZE)
    params = plans.PlanParams(
        seed=seed,
        codec_sets={h: tuple(values[f"codecs_{h}"]) for h in HALVES},
        settings=tuple(s for s in SETTINGS if s in values["settings"]),
        bulk_size=bulk,
        batch_size=batch,
    )
    problems = params.problems(worker_reports.codec_offers(session))
    if problems:
        raise FormError("codecs", "; ".join(problems))
    return params


def _form_values(
    seed: str,
    bulk_size: str,
    batch_size: str,
    codecs_A: list[str] | None,
    codecs_B: list[str] | None,
    settings: list[str] | None,
) -> dict[str, Any]:
    return {
        "seed": seed,
        "bulk_size": bulk_size,
        "batch_size": batch_size,
        "codecs_A": [c[:8] for c in (codecs_A or [])][:20],
        "codecs_B": [c[:8] for c in (codecs_B or [])][:20],
        "settings": [s[:8] for s in (settings or [])][:4],
    }


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    values: dict[str, Any],
    *,
    preview: plans.PlanPreview | None = None,
    error: str = "",
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return render(
        request,
        "admin/plans.html",
        principal,
        status_code=status_code,
        nav="plans",
        values=values,
        codecs=list(worker_reports.codec_offers(session).values()),
        halves=HALVES,
        settings=SETTINGS,
        versions=plans.versions(session),
        preview=preview,
        error=error,
        defaults=CODEC_SETS,
    )


@router.get("/plans", response_class=HTMLResponse)
def plans_page(request: Request, session: SessionDep, principal: AdminPage) -> HTMLResponse:
    latest = plans.latest(session)
    if latest is not None:
        params = plans.PlanParams.from_row(latest)
    else:
        offers = worker_reports.codec_offers(session)
        params = plans.default_params([c for c, o in offers.items() if o.offered])
    return _page(request, session, principal, _values_of(params))


@router.post("/plans/preview", response_class=HTMLResponse)
def plans_preview(
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    seed: Text = "",
    bulk_size: Text = "",
    batch_size: Text = "",
    codecs_A: FormList = None,
    codecs_B: FormList = None,
    settings: FormList = None,
) -> HTMLResponse:
    """Counts of the would-be plan; nothing is written."""
    values = _form_values(seed, bulk_size, batch_size, codecs_A, codecs_B, settings)
    error, found = "", None
    try:
        found = plans.preview_plan(session, _parse(session, values))
    except FormError as exc:
        error = exc.message
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if error else status.HTTP_200_OK
    if is_htmx(request):
        return render(
            request,
            "admin/partials/plan_preview.html",
            principal,
            status_code=code,
            preview=found,
            error=error,
        )
    return _page(request, session, principal, values, preview=found, error=error, status_code=code)


@router.post("/plans", response_model=None)
def plans_save(
    request: Request,
    session: SessionDep,
    principal: AdminForm,
    seed: Text = "",
    bulk_size: Text = "",
    batch_size: Text = "",
    codecs_A: FormList = None,
    codecs_B: FormList = None,
    settings: FormList = None,
) -> Response:
    values = _form_values(seed, bulk_size, batch_size, codecs_A, codecs_B, settings)
    try:
        plan, created = plans.save_plan(session, _parse(session, values), principal.user.id)
    except (FormError, plans.PlanError) as exc:
        message = exc.message if isinstance(exc, FormError) else str(exc)
        return _page(
            request,
            session,
            principal,
            values,
            error=message,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    msg = (
        f"Saved as version {plan.version}."
        if created
        else f"Nothing changed: version {plan.version} holds these choices."
    )
    unoffered = worker_reports.unoffered(session, plans.PlanParams.from_row(plan).codecs)
    if unoffered:
        msg += " No live worker offers codec " + ", ".join(o.codec_id for o in unoffered) + " yet."
    return back(f"/admin/plans/{plan.id}", msg)


def _plan(session: Session, plan_id: int) -> Plan | None:
    return session.get(Plan, plan_id)


def _missing(request: Request, principal: Principal, plan_id: int) -> HTMLResponse:
    return render(
        request,
        "admin/denied.html",
        principal,
        status_code=status.HTTP_404_NOT_FOUND,
        message=f"No plan version #{plan_id}.",
    )


def _version_page(
    request: Request,
    session: Session,
    principal: Principal,
    plan: Plan,
    *,
    error: str = "",
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    latest = plans.latest(session, plan.name)
    params = plans.PlanParams.from_row(plan)
    return render(
        request,
        "admin/plan.html",
        principal,
        status_code=status_code,
        nav="plans",
        plan=plan,
        params=params,
        is_latest=latest is not None and latest.id == plan.id,
        progress=plans.plan_progress(session, plan),
        codecs=worker_reports.codec_offers(session),
        warnings=plans.codec_warnings(session, params),
        error=error,
    )


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_version(
    plan_id: int, request: Request, session: SessionDep, principal: AdminPage
) -> HTMLResponse:
    plan = _plan(session, plan_id)
    if plan is None:
        return _missing(request, principal, plan_id)
    return _version_page(request, session, principal, plan)


@router.post("/plans/{plan_id}/compress", response_model=None)
def plan_compress(
    plan_id: int, request: Request, session: SessionDep, principal: AdminForm
) -> Response:
    plan = _plan(session, plan_id)
    if plan is None:
        return _missing(request, principal, plan_id)
    try:
        queued = plans.start_compression(session, plan, principal.user.id)
    except worker_reports.CodecNotOfferedError as exc:
        return _version_page(
            request,
            session,
            principal,
            plan,
            error=f"Nothing queued: {exc}.",
            status_code=status.HTTP_409_CONFLICT,
        )
    return back(
        "/admin/compression",
        f"Plan version {plan.version}: {queued} compression jobs queued"
        + ("." if queued else " (all of them exist already)."),
    )


@router.get("/plans/{plan_id}/cut", response_class=HTMLResponse)
def plan_cut_preview(
    plan_id: int, request: Request, session: SessionDep, principal: AdminPage
) -> HTMLResponse:
    """What cutting would write now: counts per bulk and every broken rule; nothing written."""
    plan = _plan(session, plan_id)
    if plan is None:
        return _missing(request, principal, plan_id)
    cut = plan_cuts.prepare_cut(session, plan)
    return page_or_fragment(
        request,
        "admin/plan_cut.html",
        "admin/partials/cut_preview.html",
        principal,
        nav="plans",
        plan=plan,
        cut=cut,
        summary=cut.summary,
    )


@router.post("/plans/{plan_id}/cut", response_model=None)
def plan_cut(plan_id: int, request: Request, session: SessionDep, principal: AdminForm) -> Response:
    plan = _plan(session, plan_id)
    if plan is None:
        return _missing(request, principal, plan_id)
    try:
        cut = plan_cuts.cut_bulks(session, plan, principal.user.id)
    except plans.PlanError as exc:
        return render(
            request,
            "admin/denied.html",
            principal,
            status_code=status.HTTP_409_CONFLICT,
            message=str(exc),
        )
    if not cut.written_bulks:
        return back(
            f"/admin/plans/{plan.id}/cut",
            "Nothing to cut: no image has all its reconstructions outside a bulk yet.",
        )
    first, last = cut.written_bulks[0], cut.written_bulks[-1]
    batches = sum(len(b.batches) for b in cut.plan.bulks) if cut.plan else 0
    return back(
        "/admin/assignments",
        f"Cut {cut.ready_images} images into bulks {first}–{last} ({batches} batches).",
    )
