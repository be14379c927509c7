"""Settings of duban: environment variables prefixed `DUBAN_` and an optional TOML file (`DUBAN_CONFIG`).

Precedence, highest first: arguments given in code (the CLI), environment variables, the TOML file, defaults.
Secrets (bot tokens, WeCom secret and keys) come only from the environment or the config file.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PACKAGE_DIR = Path(__file__).resolve().parent
PLANS_DIR = PACKAGE_DIR / "plans"
DEFAULT_PLAN = PLANS_DIR / "linzhi-2023.yaml"


class Settings(BaseSettings):
    """All of duban's settings. Field `x` is read from `DUBAN_X` or from key `x` of the TOML file."""

    model_config = SettingsConfigDict(env_prefix="DUBAN_", extra="ignore", validate_default=True)

    data_dir: Path = Field(default=Path("data"), description="where the SQLite file and evidence files live")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/duban.db")
    timezone: str = "Asia/Shanghai"
    now: dt.datetime | None = Field(default=None, description="pretend the current time (ISO 8601)")
    log_level: str = "INFO"
    plan_file: Path = DEFAULT_PLAN
    open_queries: bool = Field(default=False, description="let officials query every organisation")
    draft_expiry_hours: int = 24
    lag_points: int = Field(
        default=10, ge=0, le=100, description="滞后: reported progress more than this many points below 序时进度"
    )
    unreported_grace_days: int = Field(
        default=14, ge=0, description="a never-reported item is ⚪ this many days after its start, then 🟡"
    )

    # HTTP server shared by the Telegram webhook, the WeCom callback and /healthz
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    public_base_url: str | None = Field(
        default=None,
        description="where browsers reach this server (the board's links), e.g. https://duban.example.gov.cn; "
        "default http://<http_host>:<http_port>",
    )
    board_session_hours: float = Field(
        default=12.0, gt=0, description="a board session ends this long after its last use"
    )

    # Telegram
    telegram_token: str | None = None
    telegram_base_url: str | None = None
    telegram_base_file_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_webhook_path: str = "/telegram/webhook"
    telegram_bot_username: str | None = None
    telegram_digest_chat_id: str | None = None

    # WeCom (企业微信 / 政务微信)
    wecom_corp_id: str | None = None
    wecom_agent_id: str | None = None
    wecom_secret: str | None = None
    wecom_token: str | None = None
    wecom_aes_key: str | None = None
    wecom_api_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    wecom_callback_path: str = "/wecom/callback"
    wecom_group_webhook: str | None = None
    wecom_markdown: bool = Field(
        default=True, description="use WeCom markdown for digests (off where it does not render)"
    )
    wecom_cards: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="ask questions with tappable template cards: auto = cards until the deployment refuses one "
        "(some 政务微信 versions), then numbered text; on = always cards; off = numbered text",
    )

    # Scheduler
    scheduler_enabled: bool = True
    # NoDecode: "7,3,1,0" from the environment is split by the validator below, not parsed as JSON.
    nudge_days_before: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [7, 3, 1, 0])
    overdue_every_workdays: int = 3
    escalate_after_workdays: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [3, 10])
    weekly_prompt: str = Field(default="mon 09:30", description="weekday and time of the weekly check-in prompt")
    weekly_digest: str = Field(default="fri 17:00", description="weekday and time of the weekly digest")
    quiet_hours: str = Field(default="21:00-08:00", description="no proactive messages in this window")
    sender_interval_seconds: float = 2.0

    # The inbox, limits and housekeeping
    worker_timeout_seconds: float = Field(
        default=30.0, description="a process silent this long is dead: its chats and sends go to the others"
    )
    stop_grace_seconds: float = Field(default=6.0, description="a stop waits this long for work in hand")
    stranger_queue_cap: int = Field(default=20, description="pending messages kept from one unbound user")
    stranger_quiet_minutes: int = Field(
        default=10, description="after its one explanation an unbound user's messages get no answer this long"
    )
    invite_max_failures: int = Field(default=5, description="wrong invite codes before a user or chat must wait")
    invite_lock_minutes: int = Field(default=15, description="how long the wait after too many wrong codes is")
    health_inbox_backlog: int = Field(default=1000, description="/healthz fails with more pending messages")
    health_inbox_age_seconds: float = Field(
        default=120.0, description="/healthz fails when the oldest pending message waits longer"
    )
    retention_days: int = Field(default=30, description="handled inbox rows and message ids are kept this long")
    wecom_callback_window_seconds: int = Field(
        default=86400, description="WeCom callbacks whose timestamp is further off are refused"
    )

    @property
    def board_base_url(self) -> str:
        """The board's public root URL, without a trailing slash."""
        base = self.public_base_url or f"http://{self.http_host}:{self.http_port}"
        return base.rstrip("/")

    @field_validator("nudge_days_before", "escalate_after_workdays", mode="before")
    @classmethod
    def _int_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [int(x) for x in v.strip("[] ").replace("，", ",").split(",") if x.strip()]
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("DUBAN_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'duban.db').resolve()}"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def wecom_enabled(self) -> bool:
        return all((self.wecom_corp_id, self.wecom_agent_id, self.wecom_secret, self.wecom_token, self.wecom_aes_key))


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; keyword arguments override every other source."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
