"""App-wide request dependencies: settings, clock, request id.

They are ``async`` because they only read app state: FastAPI runs a sync dependency in the
threadpool, and a thread hop costs more than the work itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from scheduler.config import Settings
from scheduler.kit.clock import Clock


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
