"""The front desk's patient pages (``/admin/patients…``): search, create, a patient's page
(details, visits, eligibility flags), probable duplicates and their merge.

Thin over ``patients.service``: parse the form, call one service, render. No personal data
in URLs: the search box is posted (its words never reach a URL, a log or a Referer), and
pages are addressed by id only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from scheduler.deps import ClockDep
from scheduler.errors import Conflict, InvalidInput, PreconditionFailed
from scheduler.http.routes import CommitRoute
from scheduler.http.transaction import ReadSessionDep, SessionDep
from scheduler.patients import duplicates as duplicates_service
from scheduler.patients import service
from scheduler.patients.schemas import PatientCreate, PatientMerge, PatientUpdate
from scheduler.web import patient_page, series_view
from scheduler.web.deps import DeskPage
from scheduler.web.patient_forms import read_details
from scheduler.web.templating import FormErrors, flash, render

router = APIRouter(prefix="/admin/patients", include_in_schema=False, route_class=CommitRoute)

SEARCH_LIMIT = 50
DUPLICATES_LIMIT = 200
DETAIL_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone", "notes")

Text = Annotated[str, Form(max_length=5000)]
STALE_EDIT = (
    "Someone else changed this patient while you were editing, so nothing was saved. "
    "The current details are shown under “Saved now”; your changes are still in the form."
)


def _details(
    first_name: Text = "",
    last_name: Text = "",
    date_of_birth: Text = "",
    email: Text = "",
    phone: Text = "",
    notes: Text = "",
) -> dict[str, str]:
    """The details form as typed (kept on the page when refused)."""
    return {
        "first_name": first_name,
        "last_name": last_name,
        "date_of_birth": date_of_birth,
        "email": email,
        "phone": phone,
        "notes": notes,
    }


DetailsForm = Annotated[dict[str, str], Depends(_details)]


def _search_page(
    request: Request,
    staff: Any,
    *,
    q: str = "",
    searched: bool = False,
    results: list[Any] | None = None,
    total: int = 0,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    similar: list[Any] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "staff": staff,
        "q": q,
        "searched": searched,
        "results": results or [],
        "total": total,
        "form": form or dict.fromkeys(DETAIL_FIELDS, ""),
        "errors": errors or FormErrors(),
        "similar": similar or [],
        "limit": SEARCH_LIMIT,
    }
    return render(request, "patients.html", context, status_code=status_code)


@router.get("")
def patients_home(request: Request, staff: DeskPage) -> Response:
    """The search box and the new-patient form."""
    return _search_page(request, staff)


@router.post("/search")
def search(
    request: Request,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    q: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Find patients by name, date of birth (common formats), phone (any format) or e-mail."""
    _, rows, total = service.find_patients(
        db, q, viewer=staff.actor, now=clock.now(), limit=SEARCH_LIMIT
    )
    return _search_page(request, staff, q=q, searched=bool(q.strip()), results=rows, total=total)


@router.post("")
def create(
    request: Request,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    form: DetailsForm,
    confirm_new: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Create a patient. When the details look like an existing record, nothing is created
    yet: the page lists those records and asks to confirm that this is someone else."""
    data, errors = read_details(PatientCreate, form, today=clock.now().date())
    if data is None:
        return _search_page(request, staff, form=form, errors=errors, status_code=422)
    if confirm_new != "1":
        similar = service.similar_patients(db, data)
        if similar:
            return _search_page(request, staff, form=form, similar=similar)
    try:
        patient = service.create_patient(db, data, actor=staff.actor, now=clock.now())
    except InvalidInput as exc:
        errors = FormErrors()
        errors.add(exc.field or "", exc.detail)
        return _search_page(request, staff, form=form, errors=errors, status_code=422)
    flash(request, db, f"{patient.first_name} {patient.last_name} is added.")
    return RedirectResponse(f"/admin/patients/{patient.id}", status_code=303)


@router.get("/duplicates")
def duplicates(request: Request, staff: DeskPage, db: ReadSessionDep) -> Response:
    """Records an online booking flagged as probably someone already on file."""
    pairs = patient_page.flagged_duplicates(db, viewer=staff.actor, limit=DUPLICATES_LIMIT)
    return render(request, "patients_duplicates.html", {"staff": staff, "pairs": pairs})


def _patient_page(
    request: Request,
    staff: Any,
    db: Any,
    patient_id: int,
    now: Any,
    *,
    form: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    flag_errors: dict[str, FormErrors] | None = None,
    flag_reasons: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    page = patient_page.patient_page(db, patient_id, viewer=staff.actor, now=now)
    p = page.patient
    if form is None:
        form = {
            "first_name": p.first_name,
            "last_name": p.last_name,
            "date_of_birth": p.date_of_birth.isoformat(),
            "email": p.email,
            "phone": p.phone,
            "notes": p.notes,
        }
    context = {
        "staff": staff,
        "page": page,
        "form": form,
        "errors": errors or FormErrors(),
        "flag_errors": flag_errors or {},
        "flag_reasons": flag_reasons or {},
        "stale": errors is not None and errors.for_("") == STALE_EDIT,
        "series": series_view.patient_series(db, patient_id, now=now),
    }
    return render(request, "patient.html", context, status_code=status_code)


@router.get("/{patient_id}")
def show(
    request: Request, patient_id: int, staff: DeskPage, db: ReadSessionDep, clock: ClockDep
) -> Response:
    return _patient_page(request, staff, db, patient_id, clock.now())


@router.post("/{patient_id}")
def edit(
    request: Request,
    patient_id: int,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    form: DetailsForm,
    seen: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Save the details (not the eligibility flags: those have their own forms, with a
    reason). ``seen`` is the record's ``updated_at`` when the form was shown: when someone
    changed the record since, nothing is saved and the page says so, showing the current
    details beside the input kept."""
    now = clock.now()
    try:
        unchanged_since = datetime.fromisoformat(seen) if seen else None
    except ValueError:
        unchanged_since = None
    if unchanged_since is not None and unchanged_since.tzinfo is None:
        unchanged_since = None
    data, errors = read_details(PatientUpdate, form, today=now.date())
    if data is not None:
        current = service.get_patient(db, patient_id)
        if current.merged_into_id is not None:
            errors.add("", "This record was merged into another; change that one instead.")
    if data is not None and not errors:
        try:
            service.update_patient(
                db,
                patient_id,
                data,
                actor=staff.actor,
                now=now,
                unchanged_since=unchanged_since,
            )
        except InvalidInput as exc:
            errors.add(exc.field or "", exc.detail)
        except PreconditionFailed:
            errors.add("", STALE_EDIT)
    if errors:
        return _patient_page(
            request, staff, db, patient_id, now, form=form, errors=errors, status_code=422
        )
    flash(request, db, "The details are saved.")
    return RedirectResponse(f"/admin/patients/{patient_id}", status_code=303)


@router.post("/{patient_id}/eligibility")
def eligibility(
    request: Request,
    patient_id: int,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    flag: Annotated[str, Form(max_length=40)],
    value: Annotated[str, Form(pattern="^(record|clear)$")],
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Record or clear one eligibility flag, with the reason (audited with who and when)."""
    now = clock.now()
    try:
        patient = service.set_eligibility(
            db, patient_id, flag, value == "record", reason=reason, actor=staff.actor, now=now
        )
    except InvalidInput as exc:
        errors = FormErrors()
        errors.add(f"{flag}-reason" if exc.field == "reason" else "", exc.detail)
        return _patient_page(
            request,
            staff,
            db,
            patient_id,
            now,
            flag_errors={flag: errors},
            flag_reasons={flag: reason},
            status_code=422,
        )
    except Conflict as exc:
        flash(request, db, exc.detail)
        return RedirectResponse(f"/admin/patients/{patient_id}#eligibility", status_code=303)
    label = service.ELIGIBILITY_FLAGS[flag]
    done = "recorded" if getattr(patient, flag) else "cleared"
    flash(request, db, f"{label}: {done}.")
    return RedirectResponse(f"/admin/patients/{patient_id}#eligibility", status_code=303)


@router.get("/{patient_id}/merge")
def merge_confirm(
    request: Request,
    patient_id: int,
    staff: DeskPage,
    db: ReadSessionDep,
    clock: ClockDep,
    into: Annotated[int, Query(ge=1, le=duplicates_service.MAX_ROW_ID)],
) -> Response:
    """The confirm step: what moves from this record to the one kept."""
    preview = duplicates_service.merge_preview(db, into, patient_id)
    upcoming, past = patient_page.visits(db, patient_id, now=clock.now())
    context = {"staff": staff, "preview": preview, "upcoming": upcoming, "past": past}
    return render(request, "patient_merge.html", context)


@router.post("/{patient_id}/merge")
def merge(
    request: Request,
    patient_id: int,
    staff: DeskPage,
    db: SessionDep,
    clock: ClockDep,
    into: Annotated[int, Form(ge=1, le=duplicates_service.MAX_ROW_ID)],
) -> Response:
    """Fold this record into ``into`` through the merge service (audited); its visits
    then show under the record kept."""
    try:
        kept = duplicates_service.merge_patients(
            db, into, PatientMerge(duplicate_id=patient_id), actor=staff.actor, now=clock.now()
        )
    except (Conflict, InvalidInput) as exc:
        flash(request, db, f"Not merged: {exc.detail}")
        return RedirectResponse(f"/admin/patients/{patient_id}", status_code=303)
    flash(request, db, f"Record {patient_id} is merged into this one.")
    return RedirectResponse(f"/admin/patients/{kept.id}", status_code=303)


@router.post("/{patient_id}/not-duplicate")
def not_duplicate(
    request: Request, patient_id: int, staff: DeskPage, db: SessionDep, clock: ClockDep
) -> Response:
    """Staff looked: this is someone else. The flag is cleared; both records stay."""
    try:
        duplicates_service.dismiss_duplicate(db, patient_id, actor=staff.actor, now=clock.now())
    except Conflict as exc:
        flash(request, db, exc.detail)
    else:
        flash(request, db, "Marked as not a duplicate; both records stay.")
    return RedirectResponse(f"/admin/patients/{patient_id}", status_code=303)
