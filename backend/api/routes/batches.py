from fastapi import APIRouter, HTTPException, status

from backend.api.deps import AdminUser, LabelerUser, SessionDep
from backend.schemas import AssignmentWorkOut, BatchOut, ItemOut, ListOf
from backend.services import batches

router = APIRouter(tags=["batches"])


@router.get("/batches", response_model=ListOf[BatchOut])
def list_batches(session: SessionDep, user: LabelerUser) -> ListOf[BatchOut]:
    data = batches.batches_for(session, user)
    return ListOf(data=data, count=len(data))


@router.get("/batches/{batch_id}/items", response_model=ListOf[ItemOut])
def list_items(batch_id: int, session: SessionDep, user: LabelerUser) -> ListOf[ItemOut]:
    data = batches.batch_items(session, user, batch_id)
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such batch")
    return ListOf(data=data, count=len(data))


@router.get("/assignments/{assignment_id}/work", response_model=AssignmentWorkOut)
def assignment_work(assignment_id: int, session: SessionDep, user: AdminUser) -> AssignmentWorkOut:
    """For admins: one labeler's work on her batch (annotations, flags, notes, done), to read."""
    work = batches.assignment_work(session, assignment_id)
    if work is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such assignment")
    return work
