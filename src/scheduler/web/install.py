"""Plug the web pages into the app: routes, static files, security, HTML error pages."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from scheduler.config import Settings
from scheduler.errors import SchedulerError
from scheduler.web.deps import PageForbidden, SignInRequired, login_url
from scheduler.web.patient_pages import Refused, error_page, is_patient_page, show_refusal
from scheduler.web.security import WebSecurity
from scheduler.web.templating import STATIC_DIR, STATIC_PREFIX, render


def _is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/admin" or path.startswith("/admin/") or is_patient_page(path)


def install_web(app: FastAPI, settings: Settings) -> None:
    from scheduler.web.availability import router as availability_router
    from scheduler.web.availability_dated import router as availability_dated_router
    from scheduler.web.board import router as board_router
    from scheduler.web.booking import router as booking_router
    from scheduler.web.booking_actions import router as booking_actions_router
    from scheduler.web.feeds import router as feeds_router
    from scheduler.web.messages import router as messages_router
    from scheduler.web.patient_pages import router as patient_router
    from scheduler.web.patients import router as patients_router
    from scheduler.web.router import router
    from scheduler.web.series_book import router as series_book_router
    from scheduler.web.series_manage import router as series_manage_router
    from scheduler.web.series_settings import router as series_settings_router
    from scheduler.web.settings import router as settings_router
    from scheduler.web.settings_types import router as settings_types_router
    from scheduler.web.settings_users import router as settings_users_router
    from scheduler.web.waitlist import router as waitlist_router
    from scheduler.web.waitlist_offer import router as waitlist_offer_router

    app.include_router(router)
    app.include_router(board_router)
    app.include_router(patients_router)
    app.include_router(booking_router)
    app.include_router(booking_actions_router)
    app.include_router(series_book_router)
    app.include_router(series_manage_router)
    app.include_router(series_settings_router)
    app.include_router(settings_router)
    app.include_router(settings_types_router)
    app.include_router(settings_users_router)
    app.include_router(availability_router)
    app.include_router(availability_dated_router)
    app.include_router(feeds_router)
    app.include_router(patient_router)
    app.include_router(waitlist_router)
    app.include_router(messages_router)
    app.include_router(waitlist_offer_router)
    app.add_exception_handler(Refused, show_refusal)  # type: ignore[arg-type]
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(WebSecurity, settings=settings)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        return render(
            request,
            "error.html",
            {"title": "Not available", "message": exc.message},
            status_code=403,
        )

    # Errors raised on a page are shown as a page; the API keeps its problem+json.
    api_error = app.exception_handlers[SchedulerError]
    api_http_error = app.exception_handlers[StarletteHTTPException]

    async def _page_error(request: Request, exc: Any) -> Response:
        if not _is_page(request):
            handler = api_error if isinstance(exc, SchedulerError) else api_http_error
            response = handler(request, exc)
            return await response if inspect.isawaitable(response) else response
        if isinstance(exc, SchedulerError):
            status, message = exc.status, exc.detail
        else:
            status = exc.status_code
            message = "This page does not exist." if status == 404 else str(exc.detail)
        title = "Not found" if status == 404 else "Something is not right"
        if is_patient_page(request.url.path):
            if status == 404:
                message = "This page or link does not exist, or it has expired."
            return error_page(request, status, title, message)
        return render(
            request, "error.html", {"title": title, "message": message}, status_code=status
        )

    app.add_exception_handler(SchedulerError, _page_error)
    app.add_exception_handler(StarletteHTTPException, _page_error)

    api_validation_error = app.exception_handlers[RequestValidationError]

    async def _page_validation_error(request: Request, exc: Any) -> Response:
        if not _is_page(request):
            response = api_validation_error(request, exc)
            return await response if inspect.isawaitable(response) else response
        # Pages build their forms themselves, so this is a tampered or truncated request.
        context = {
            "title": "Something is not right",
            "message": "The page or form was incomplete, so nothing was changed. "
            "Go back, reload the page and try again.",
        }
        if is_patient_page(request.url.path):
            return error_page(request, 400, context["title"], context["message"])
        return render(request, "error.html", context, status_code=400)

    app.add_exception_handler(RequestValidationError, _page_validation_error)
