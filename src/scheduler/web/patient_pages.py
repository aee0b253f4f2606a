"""The patient pages, without an account and without JavaScript: book a visit (``/book``,
``patient_book``), manage it by its private link (``/manage/{token}``, ``patient_manage``), and
returning patients' sign-in and visits (``/me``, ``patient_me``), and their waitlist
entries (``/me/waitlist``, ``patient_waitlist``).
Shared layout and mechanisms: ``patient_base``.
"""

from __future__ import annotations

from fastapi import APIRouter

from scheduler.web.patient_base import Refused, error_page, is_patient_page, show_refusal
from scheduler.web.patient_book import router as book_router
from scheduler.web.patient_manage import router as manage_router
from scheduler.web.patient_me import router as me_router
from scheduler.web.patient_waitlist import router as waitlist_router

router = APIRouter(include_in_schema=False)
router.include_router(book_router)
router.include_router(manage_router)
router.include_router(me_router)
router.include_router(waitlist_router)

__all__ = ["Refused", "error_page", "is_patient_page", "router", "show_refusal"]
