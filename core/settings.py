"""Settings from the environment (prefix ``GRIDBOT_``, ``.env`` honoured), built by ``get_settings()`` and passed in."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "your-token", "xxx", "todo"}


class Settings(BaseSettings):
    """Everything configurable about one gridbot deployment."""

    model_config = SettingsConfigDict(env_prefix="GRIDBOT_", env_file=".env", extra="ignore")

    database_url: str = Field(default="sqlite:///var/gridbot.db", description="SQLAlchemy URL")
    redis_url: str | None = Field(default=None, description="unset: in-process state store")
    timezone: str = "Asia/Shanghai"
    media_dir: Path = Path("var/media")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    session_ttl_seconds: int = 1800
    dedupe_ttl_seconds: int = 300
    turn_budget_seconds: float = 4.0
    run_scheduler: bool = True
    outbox_lease_seconds: float = Field(
        default=60.0, gt=0, description="how long a claimed outbox row stays leased to one worker before another "
                                        "may retry it (a crashed process's rows wait this long)")

    nlu_intent_threshold: float = 0.55
    nlu_category_threshold: float = 0.5
    policy_answer_threshold: float = 0.3
    policy_synonyms_file: Path | None = None
    taxonomy_file: Path | None = None

    wechat_token: SecretStr | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_menu_file: Path | None = None
    wechat_template_ids: dict[str, str] = Field(
        default_factory=dict, description="notice kind → template id, JSON, for pushes outside the 48 h window")

    telegram_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from exc
        return value

    @field_validator("wechat_token", "wechat_app_secret", "telegram_token", "telegram_webhook_secret")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("is still a placeholder: set the real secret or leave it unset")
        return value

    @field_validator("wechat_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) != 43:
            raise ValueError("EncodingAESKey must be the 43 characters shown in the WeChat console")
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The deployment's time zone (deadlines, digests and case numbers follow it)."""
        return ZoneInfo(self.timezone)

    @property
    def is_embedded_db(self) -> bool:
        """True when the database is the embedded SQLite default (``serve`` migrates it by itself)."""
        return self.database_url.startswith("sqlite")


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment and ``.env``; keyword overrides win (tests, CLI flags)."""
    from pydantic import ValidationError

    from core.errors import ConfigError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]).upper() if first["loc"] else "?"
        raise ConfigError(f"setting GRIDBOT_{field}: {first['msg']}") from None
