"""Settings read from the environment (prefix ``SCHEDULER_``).

Nothing here runs at import time: ``get_settings()`` builds a ``Settings`` when asked, and
``create_app(settings)`` accepts one so tests pass their own.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The development default; refused (as is any short key) outside development.
PLACEHOLDER_SECRET = "insecure-development-secret-change-me-0000"  # noqa: S105

FeedPrivacy = Literal["type_only", "type_and_initials"]
MailTransport = Literal["file", "smtp"]
SmtpSecurity = Literal["none", "starttls", "tls"]


class LocationSender(BaseModel):
    """A location's own sender: its address in From and where replies go."""

    from_address: str = ""
    reply_to: str = ""


class Settings(BaseSettings):
    """Every setting of the service; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{Path('var/scheduler.db').resolve()}",
    )
    # Used when SCHEDULER_DATABASE_URL is not given and a host is: the URL is built from these
    # parts with the password URL-escaped, so any character is safe in it (docker compose).
    database_host: str | None = None
    database_port: int = Field(default=5432, ge=1, le=65535)
    database_name: str = "scheduler"
    database_user: str = "scheduler"
    database_password: SecretStr = SecretStr("")
    secret_key: str = PLACEHOLDER_SECRET
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    hold_minutes: int = Field(default=10, ge=1, le=120)
    # How long a waitlist offer's accept link (and the hold behind it) lasts; never past the
    # slot's own min notice.
    waitlist_offer_minutes: int = Field(default=120, ge=5, le=7 * 24 * 60)
    # How long an Idempotency-Key's answer is kept for a retry; an older key counts as new,
    # and the worker deletes its record.
    idempotency_hours: int = Field(default=24, ge=1, le=24 * 30)
    public_base_url: str = "http://127.0.0.1:8000"
    # The organizer of a booking's .ics (calendar apps show it, and iTIP readers such as
    # Evolution require one): the clinic's name (default: the location's) and its address
    # (default: public_base_url, a URI that is not a mailbox).
    clinic_name: str = Field(default="", max_length=200)
    clinic_email: str = Field(default="", max_length=320)
    # The patient pages (/book, /manage): the clinic's phone (default: the location's), its
    # logo (a path on this server or a data: image URL; nothing is loaded from elsewhere) and
    # its brand colour (#rrggbb, used for buttons and the header).
    clinic_phone: str = Field(default="", max_length=40)
    clinic_logo_url: str = Field(
        default="", max_length=100_000, pattern=r"^$|^/[^/\\]|^data:image/(png|svg\+xml|jpeg|webp);"
    )
    clinic_brand_color: str = Field(default="#1f5aa6", pattern=r"^#[0-9a-fA-F]{6}$")
    feed_privacy: FeedPrivacy = "type_and_initials"
    feed_past_days: int = Field(default=30, ge=0, le=366)
    feed_future_days: int = Field(default=180, ge=1, le=730)
    feed_cancelled_grace_days: int = Field(default=14, ge=0, le=90)
    # Rendered feeds kept per process (the latest version of each feed), in bytes.
    feed_cache_max_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    # The patient month grid's open starts kept per process (availability/cache.py), in bytes
    # (an entry, one type's month at one location, is about 20-60 KB).
    free_days_cache_max_bytes: int = Field(default=8 * 1024 * 1024, ge=0)
    show_provider_to_patients: bool = True
    public_rate_limit: str = "60/minute"
    public_write_rate_limit: str = "10/minute"
    # Holds block chairs for everyone: each address may place only so many (bounds how much
    # of a day one client can hold at once to about this rate x hold_minutes).
    public_hold_rate_limit: str = "20/hour"
    login_rate_limit: str = "10/minute"
    # Returning patients (/me): a sign-in link by e-mail, single use, valid this long; the
    # session it starts lasts as long. Each address may ask this often, and one patient gets
    # at most this many links an hour (more requests get the same answer and no mail).
    sign_in_link_minutes: int = Field(default=30, ge=5, le=24 * 60)
    patient_session_minutes: int = Field(default=30, ge=5, le=24 * 60)
    sign_in_rate_limit: str = "5/10minutes"
    sign_in_mails_per_hour: int = Field(default=3, ge=1, le=20)
    # The request form answers no sooner than this, known person or not, so that its timing
    # tells nothing (the work is a few milliseconds; the rest is waiting).
    sign_in_answer_seconds: float = Field(default=0.25, ge=0.0, le=5.0)
    # Reverse proxies whose X-Forwarded-For is trusted (rate limits key on the client address).
    forwarded_allow_ips: str = "127.0.0.1"
    rate_limit_enabled: bool = True
    rate_limit_storage_uri: str = "memory://"
    public_search_max_days: int = Field(default=31, ge=1, le=93)
    # Larger request bodies are refused with 413 before they are read whole (no request of
    # this API needs more than a few kilobytes).
    max_body_bytes: int = Field(default=1_000_000, ge=1_024)
    sql_echo: bool = False
    # Where the service keeps files: the development database's neighbours, `.eml` files of
    # the file transport (outbox/), the worker's heartbeat.
    data_dir: Path = Field(default_factory=lambda: Path("var").resolve())
    # Messages to patients (notifications/ and the worker).
    mail_transport: MailTransport = "file"
    mail_from: str = "Infusion Scheduler <no-reply@localhost>"
    mail_reply_to: str = ""
    # Per location id: {"1": {"from_address": "...", "reply_to": "..."}}
    mail_location_senders: dict[int, LocationSender] = Field(default_factory=dict)
    mail_template_dir: Path | None = None
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: SmtpSecurity = "none"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # How long the server may take to confirm a message whose data it has been given (RFC
    # 5321 allows it 10 minutes): past this, the message may have arrived, so it is not resent.
    smtp_data_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    reminder_offsets_hours: list[int] = Field(default_factory=lambda: [48, 24])
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(8, 0)
    # When the day-before instructions (fasting, driver) go out, local time.
    instructions_local_time: time = time(18, 0)
    # Minutes after a visit's end before a `booked` visit becomes a no-show; unset: the end
    # of the clinic's local day.
    noshow_grace_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    notification_max_attempts: int = Field(default=5, ge=1, le=50)
    notification_retry_base_seconds: float = Field(default=30.0, gt=0, le=3600)
    worker_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    worker_batch_size: int = Field(default=20, ge=1, le=1000)
    worker_lease_seconds: int = Field(default=120, ge=5, le=3600)
    worker_heartbeat_max_age_seconds: int = Field(default=120, ge=5, le=3600)
    # The web pages (/admin): how long a sign-in lasts without use (idle) and at most
    # (absolute). Seconds, so tests can use short limits.
    web_session_idle_seconds: int = Field(default=30 * 60, ge=1, le=24 * 3600)
    web_session_absolute_seconds: int = Field(default=12 * 3600, ge=1, le=7 * 24 * 3600)
    # "auto": JSON lines in production, readable text otherwise.
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Bearer token that GET /metrics requires; unset: /metrics answers 404.
    metrics_token: SecretStr | None = None

    @model_validator(mode="after")
    def _database_url_from_parts(self) -> Self:
        """``database_host`` and friends make the URL unless a URL was given explicitly."""
        if self.database_host and "database_url" not in self.model_fields_set:
            from sqlalchemy import URL

            self.database_url = URL.create(
                "postgresql+psycopg",
                username=self.database_user,
                password=self.database_password.get_secret_value() or None,
                host=self.database_host,
                port=self.database_port,
                database=self.database_name,
            ).render_as_string(hide_password=False)
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        """Outside development a placeholder or short secret would let anyone forge tokens."""
        if self.environment != "development" and (
            self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32
        ):
            msg = (
                "SCHEDULER_SECRET_KEY must be set to a random value of at least 32 characters "
                "outside development (e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
            raise ValueError(msg)
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
