"""App-wide request dependencies: settings, clock, request id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from scheduler.config import Settings
from scheduler.kit.clock import Clock


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
