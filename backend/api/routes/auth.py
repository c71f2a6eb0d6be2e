from fastapi import APIRouter, HTTPException, Request, Response, status

from backend.api.deps import (
    SESSION_COOKIE,
    CurrentUser,
    PrincipalDep,
    SessionDep,
    set_session_cookie,
)
from backend.schemas import LoginIn, LoginOut, UserOut
from backend.services import auth as auth_service

router = APIRouter(tags=["auth"])


@router.post("/auth/login", response_model=LoginOut)
def login(body: LoginIn, response: Response, session: SessionDep) -> LoginOut:
    user = auth_service.authenticate(session, body.username, body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    key, login_session = auth_service.open_session(session, user)
    set_session_cookie(response, key)
    return LoginOut(
        user=UserOut(id=user.id, username=user.username, role=user.role),  # type: ignore[arg-type]
        csrf_token=login_session.csrf_token,
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, session: SessionDep, _: PrincipalDep) -> None:
    key = request.cookies.get(SESSION_COOKIE)
    if key:
        auth_service.close_session(session, key)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, username=user.username, role=user.role)  # type: ignore[arg-type]
