"""The Inbox admin's forms: one per inbox kind, with typed fields for the settings (`Inbox.config`) and the
secrets (`Inbox.credentials`) that kind's adapter reads, instead of raw JSON.

Each form stores exactly the keys the adapters already read (gateway/whatsapp.py, telegram.py, wechat.py,
twilio.py, api.py; `allowed_origins` for the web widget), so nothing else changes. Keys a form does not
manage are kept as they were.

Secrets are write-only: their inputs never render a value (not even after a validation error), a blank
input keeps the stored secret, and a typed one replaces it. The admin's history names the fields that
changed, never their values. docs/gateway.md, "Admin".
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.utils.translation import gettext_lazy as _

from gateway.telegram import TelegramAdapter
from gateway.twilio import TwilioAdapter
from gateway.wechat import WeChatAdapter
from gateway.whatsapp import WhatsAppAdapter
from imsubsystem.models import Inbox

# --- formats ---------------------------------------------------------------------------------------

HTTP_URL = URLValidator(schemes=["http", "https"])
E164 = RegexValidator(r"^\+[1-9][0-9]{6,14}$", _("Enter a phone number in E.164 form, e.g. +14155550100."))
DIGITS_ID = RegexValidator(r"^[0-9]{5,32}$", _("Enter the numeric id Meta shows (digits only)."))
GRAPH_VERSION = RegexValidator(r"^v[0-9]{1,3}\.[0-9]{1,3}$", _("Enter a Graph API version like v21.0."))
META_APP_SECRET = RegexValidator(r"^[0-9a-fA-F]{32}$", _("A Meta app secret is 32 hexadecimal characters."))
TELEGRAM_BOT_TOKEN = RegexValidator(
    r"^[0-9]{1,20}:[A-Za-z0-9_-]{30,}$", _("A bot token looks like 123456789:AAE… (as @BotFather gave it).")
)
TELEGRAM_SECRET_TOKEN = RegexValidator(
    r"^[A-Za-z0-9_-]{1,256}$", _("Telegram takes 1 to 256 characters: letters, digits, _ and -.")
)
WECHAT_APP_ID = RegexValidator(r"^wx[0-9a-f]{16}$", _("A WeChat app id is wx followed by 16 hexadecimal characters."))
WECHAT_APP_SECRET = RegexValidator(r"^[0-9a-fA-F]{32}$", _("A WeChat app secret is 32 hexadecimal characters."))
WECHAT_TOKEN = RegexValidator(r"^[A-Za-z0-9]{3,32}$", _("WeChat takes 3 to 32 letters and digits as the token."))
TWILIO_ACCOUNT_SID = RegexValidator(
    r"^AC[0-9a-f]{32}$", _("An account SID is AC followed by 32 hexadecimal characters.")
)
TWILIO_AUTH_TOKEN = RegexValidator(r"^[0-9a-f]{32}$", _("An auth token is 32 hexadecimal characters."))
TWILIO_SERVICE_SID = RegexValidator(
    r"^MG[0-9a-f]{32}$", _("A messaging service SID is MG followed by 32 hexadecimal characters.")
)
API_SECRET = RegexValidator(r"^\S{32,}$", _("Use at least 32 characters without spaces."))


def wechat_aes_key_validate(value: str) -> None:
    """WeChat's EncodingAESKey: 43 characters that are base64 of a 32-byte AES key once "=" is added."""
    if not re.fullmatch(r"[A-Za-z0-9+/]{43}", value):
        raise ValidationError(_("The EncodingAESKey is 43 letters and digits, as WeChat shows it."))
    try:
        key = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(_("The EncodingAESKey is not valid base64.")) from exc
    if len(key) != 32:
        raise ValidationError(_("The EncodingAESKey must decode to a 32-byte key."))


def origin_validate(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValidationError(
            _("%(value)s is not an origin like https://shop.example (scheme and host, no path)."),
            params={"value": value},
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError(_("%(value)s is not an origin: no query, fragment or user."), params={"value": value})


def random_token() -> str:
    return secrets.token_urlsafe(32)


# --- fields ----------------------------------------------------------------------------------------


class SecretInput(forms.PasswordInput):
    """Never renders a value; the placeholder says whether one is stored."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"autocomplete": "new-password", "size": 60, **(attrs or {})}, render_value=False)


class SecretField(forms.CharField):
    widget = SecretInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)  # required when nothing is stored: the form's clean() checks
        kwargs.setdefault("strip", True)
        super().__init__(*args, **kwargs)


class LinesField(forms.CharField):
    """A list of strings, one a line."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def __init__(self, *args: Any, item_validator: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)
        self.item_validator = item_validator

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(str(v) for v in value) if isinstance(value, list) else value

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        items = [line.strip().rstrip("/") for line in text.splitlines() if line.strip()]
        errors = []
        for item in items:
            try:
                if self.item_validator:
                    self.item_validator(item)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return list(dict.fromkeys(items))


def templates_validate(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError(_("Enter a list: [] or [{…}, …]."))
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            raise ValidationError(_("Template %(n)s is not an object."), params={"n": number})
        name, language, params = entry.get("name"), entry.get("language"), entry.get("params", 0)
        if not (isinstance(name, str) and name.strip() and isinstance(language, str) and language.strip()):
            raise ValidationError(_("Template %(n)s needs a name and a language."), params={"n": number})
        if not isinstance(params, int) or isinstance(params, bool) or params < 0:
            raise ValidationError(_("Template %(n)s: params is a whole number of 0 or more."), params={"n": number})
        if "text" in entry and not isinstance(entry["text"], str):
            raise ValidationError(_("Template %(n)s: text is a string."), params={"n": number})


# --- the forms -------------------------------------------------------------------------------------

BASE_FIELDS = ("name", "key", "default_queue", "language", "is_active")


class InboxSettingsForm(forms.ModelForm):
    """The base of every kind's form. A subclass declares its fields and maps them:

    - `config_keys`: form field → key in `Inbox.config` (blank removes the key);
    - `secret_keys`: form field → key in `Inbox.credentials` (blank keeps the stored value);
    - `generated`: secrets made up when left blank on a new inbox (the admin never needs to type them);
    - `sections`: the admin's fieldsets for these fields, in order.
    """

    kind: ClassVar[str] = ""
    config_keys: ClassVar[dict[str, str]] = {}
    secret_keys: ClassVar[dict[str, str]] = {}
    generated: ClassVar[dict[str, Callable[[], str]]] = {}
    # Fields needed whatever else is chosen: marked required on the page (a secret only while none is
    # stored or made up). required_fields() is what clean() enforces, conditions included.
    always_required: ClassVar[tuple[str, ...]] = ()
    sections: ClassVar[list[tuple[Any, dict[str, Any]]]] = []

    class Meta:
        model = Inbox
        fields = BASE_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.instance.kind = self.kind
        config = self.instance.config or {}
        for field, key in self.config_keys.items():
            if field in self.fields and key in config:
                self.fields[field].initial = config[key]
        for field in self.always_required:
            key = self.secret_keys.get(field)
            if key is None or not (self.stored_secret(key) or field in self.generated):
                self.fields[field].required = True
        for field, key in self.secret_keys.items():
            if field not in self.fields:
                continue
            widget = self.fields[field].widget
            if self.stored_secret(key):
                widget.attrs["placeholder"] = _("•••••• stored: leave blank to keep it, type to replace it")
            elif field in self.generated:
                widget.attrs["placeholder"] = _("leave blank to have one made up")

    def stored_secret(self, key: str) -> str:
        return str((self.instance.credentials or {}).get(key) or "") if self.instance.pk else ""

    def required_fields(self, cleaned: dict[str, Any]) -> tuple[str, ...]:
        """The fields that must hold a value (a secret: typed now or stored before)."""
        return ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for field in self.required_fields(cleaned):
            if field in self._errors:
                continue
            key = self.secret_keys.get(field)
            present = cleaned.get(field) not in (None, "", [])
            if not present and key is not None and (self.stored_secret(key) or field in self.generated):
                continue
            if not present:
                self.add_error(field, forms.Field.default_error_messages["required"])
        return cleaned

    def settings_apply(self) -> None:
        config = dict(self.instance.config or {})
        for field, key in self.config_keys.items():
            value = self.cleaned_data.get(field)
            if value in (None, "", []):
                config.pop(key, None)
            else:
                config[key] = value
        credentials = dict(self.instance.credentials or {})
        for field, key in self.secret_keys.items():
            value = self.cleaned_data.get(field)
            if value:
                credentials[key] = value
            elif not credentials.get(key) and field in self.generated:
                credentials[key] = self.generated[field]()
        self.instance.config = config
        self.instance.credentials = credentials

    def save(self, commit: bool = True) -> Inbox:
        self.settings_apply()
        return super().save(commit=commit)


ADVANCED = (_("Advanced"), {"fields": ("api_base_url",), "classes": ("collapse",)})


def api_base_url_field(default: str) -> forms.URLField:
    return forms.URLField(
        label=_("API base URL"),
        required=False,
        validators=[HTTP_URL],
        assume_scheme="https",
        help_text=_("Leave blank for the platform's own (%(default)s); set it only for a proxy or a test server.")
        % {"default": default},
        widget=forms.URLInput(attrs={"placeholder": default, "size": 60}),
    )


class WebInboxForm(InboxSettingsForm):
    kind = "web"
    always_required = ("allowed_origins",)
    allowed_origins = LinesField(
        label=_("Allowed origins"),
        item_validator=origin_validate,
        help_text=_("The sites that may embed the chat widget, one a line, e.g. https://shop.example."),
    )
    config_keys = {"allowed_origins": "allowed_origins"}
    sections = [(_("Web widget"), {"fields": ("allowed_origins",)})]

    def required_fields(self, cleaned: dict[str, Any]) -> tuple[str, ...]:
        return ("allowed_origins",)


class TelegramInboxForm(InboxSettingsForm):
    kind = "telegram"
    always_required = ("bot_token",)
    bot_token = SecretField(
        label=_("Bot token"), validators=[TELEGRAM_BOT_TOKEN], help_text=_("The token @BotFather gave for the bot.")
    )
    secret_token = SecretField(
        label=_("Webhook secret token"),
        validators=[TELEGRAM_SECRET_TOKEN],
        help_text=_(
            "Telegram sends it with every update and Switchboard refuses updates without it. Leave blank to have "
            "one made up; “Register the webhook” gives it to Telegram."
        ),
    )
    api_base_url = api_base_url_field(TelegramAdapter.default_api_base_url)
    config_keys = {"api_base_url": "api_base_url"}
    secret_keys = {"bot_token": "bot_token", "secret_token": "secret_token"}
    generated = {"secret_token": random_token}
    sections = [
        (_("Telegram bot"), {"fields": ("bot_token", "secret_token")}),
        ADVANCED,
    ]

    def required_fields(self, cleaned: dict[str, Any]) -> tuple[str, ...]:
        return ("bot_token", "secret_token")


class TwilioFieldsMixin(forms.Form):
    """Twilio's fields: SMS inboxes, and WhatsApp inboxes through Twilio."""

    account_sid = forms.CharField(
        label=_("Account SID"), required=False, validators=[TWILIO_ACCOUNT_SID], widget=forms.TextInput({"size": 40})
    )
    auth_token = SecretField(label=_("Auth token"), validators=[TWILIO_AUTH_TOKEN])
    from_number = forms.CharField(
        label=_("From number"),
        required=False,
        validators=[E164],
        help_text=_("The Twilio number replies come from (E.164, e.g. +14155550100), or give a messaging service."),
    )
    messaging_service_sid = forms.CharField(
        label=_("Messaging service SID"), required=False, validators=[TWILIO_SERVICE_SID]
    )
    status_callback_url = forms.URLField(
        label=_("Status callback URL"),
        required=False,
        assume_scheme="https",
        validators=[HTTP_URL],
        help_text=_("Optional: where Twilio reports delivery (usually this inbox's webhook URL)."),
    )
    twilio_webhook_url = forms.URLField(
        label=_("Public webhook URL"),
        required=False,
        assume_scheme="https",
        validators=[HTTP_URL],
        help_text=_(
            "Optional: the exact URL Twilio calls, when a proxy in front of Switchboard changes it (Twilio signs it)."
        ),
    )
    twilio_config_keys = {
        "from_number": "from_number",
        "messaging_service_sid": "messaging_service_sid",
        "status_callback_url": "status_callback_url",
        "twilio_webhook_url": "webhook_url",
    }
    twilio_fields = (
        "account_sid",
        "auth_token",
        "from_number",
        "messaging_service_sid",
        "status_callback_url",
        "twilio_webhook_url",
    )

    def twilio_clean(self, cleaned: dict[str, Any]) -> None:
        given = cleaned.get("from_number") or cleaned.get("messaging_service_sid")
        if not given and "from_number" not in self._errors and "messaging_service_sid" not in self._errors:
            self.add_error("from_number", _("Give a from number or a messaging service SID."))


class SmsInboxForm(TwilioFieldsMixin, InboxSettingsForm):
    kind = "sms"
    always_required = ("account_sid", "auth_token")
    api_base_url = api_base_url_field(TwilioAdapter.default_api_base_url)
    # The account SID is not a secret (it is in every URL), but the adapter reads it from the credentials.
    config_keys = {**TwilioFieldsMixin.twilio_config_keys, "api_base_url": "api_base_url"}
    secret_keys = {"auth_token": "auth_token"}
    sections = [
        (_("Twilio"), {"fields": TwilioFieldsMixin.twilio_fields}),
        ADVANCED,
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account_sid"].initial = (self.instance.credentials or {}).get("account_sid", "")

    def required_fields(self, cleaned: dict[str, Any]) -> tuple[str, ...]:
        return ("account_sid", "auth_token")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.twilio_clean(cleaned)
        return cleaned

    def settings_apply(self) -> None:
        super().settings_apply()
        self.instance.credentials = {**self.instance.credentials, "account_sid": self.cleaned_data["account_sid"]}


class WhatsAppInboxForm(TwilioFieldsMixin, InboxSettingsForm):
    kind = "whatsapp"
    always_required = ("provider",)
    PROVIDERS = [("cloud", _("WhatsApp Cloud API (Meta)")), ("twilio", _("Twilio"))]
    provider = forms.ChoiceField(label=_("Provider"), choices=PROVIDERS, initial="cloud")
    phone_number_id = forms.CharField(
        label=_("Phone number ID"),
        required=False,
        validators=[DIGITS_ID],
        help_text=_("In Meta's app dashboard: WhatsApp › API Setup › Phone number ID (not the phone number)."),
    )
    access_token = SecretField(
        label=_("Access token"), help_text=_("A system user's permanent token with whatsapp_business_messaging.")
    )
    app_secret = SecretField(
        label=_("App secret"),
        validators=[META_APP_SECRET],
        help_text=_("App settings › Basic › App secret: signs every webhook (X-Hub-Signature-256)."),
    )
    verify_token = SecretField(
        label=_("Verify token"),
        validators=[RegexValidator(r"^\S{8,200}$", _("Use 8 to 200 characters without spaces."))],
        help_text=_(
            "What Meta sends when you subscribe the webhook. Leave blank to have one made up; it is shown above "
            "the form, ready to paste."
        ),
    )
    api_version = forms.CharField(
        label=_("Graph API version"),
        required=False,
        validators=[GRAPH_VERSION],
        widget=forms.TextInput(attrs={"placeholder": "v21.0"}),
    )
    templates = forms.JSONField(
        label=_("Approved templates"),
        required=False,
        validators=[templates_validate],
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_(
            'The templates agents may send outside the 24-hour window, as approved by Meta: [{"name": '
            '"order_update", "language": "en", "params": 1, "text": "Your order {{1}} has shipped."}].'
        ),
    )
    api_base_url = api_base_url_field(WhatsAppAdapter.default_api_base_url)
    config_keys = {
        "provider": "provider",
        "phone_number_id": "phone_number_id",
        "api_version": "api_version",
        "templates": "templates",
        "api_base_url": "api_base_url",
        **TwilioFieldsMixin.twilio_config_keys,
    }
    secret_keys = {
        "access_token": "access_token",
        "app_secret": "app_secret",
        "verify_token": "verify_token",
        "auth_token": "auth_token",
    }
    generated = {"verify_token": random_token}
    sections = [
        (None, {"fields": ("provider",)}),
        (
            _("WhatsApp Cloud API"),
            {"fields": ("phone_number_id", "access_token", "app_secret", "verify_token", "api_version")},
        ),
        (_("Through Twilio"), {"fields": TwilioFieldsMixin.twilio_fields}),
        (_("Templates"), {"fields": ("templates",)}),
        ADVANCED,
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        credentials = self.instance.credentials or {}
        if (self.instance.config or {}).get("provider") != "twilio":
            self.fields["provider"].initial = "cloud"
        self.fields["account_sid"].initial = credentials.get("account_sid", "")
        self.fields["api_base_url"].help_text = _(
            "Leave blank for the provider's own (https://graph.facebook.com or https://api.twilio.com); set it "
            "only for a proxy or a test server."
        )

    def required_fields(self, cleaned: dict[str, Any]) -> tuple[str, ...]:
        if cleaned.get("provider") == "twilio":
            return ("account_sid", "auth_token")
        return ("phone_number_id", "access_token", "app_secret", "verify_token")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("provider") == "twilio":
            self.twilio_clean(cleaned)
        return cleaned

    def settings_apply(self) -> None:
        twilio = self.cleaned_data.get("provider") == "twilio"
        # Only the chosen provider's settings count; a verify token is made up for Cloud inboxes only.
        if twilio:
            self.generated = {}
        super().settings_apply()
        if twilio:
            self.instance.credentials = {**self.instance.credentials, "account_sid": self.cleaned_data["account_sid"]}


class WeChatInboxForm(InboxSettingsForm):
    kind = "wechat"
    always_required = ("app_id", "app_secret", "token")
    ENCRYPTION = [
        ("plain", _("Plain text (明文模式)")),
        ("compatible", _("Compatible (兼容模式)")),
        ("safe", _("Safe: encrypted only (安全模式)")),
    ]
    app_id = forms.CharField(
        label=_("AppID"),
        required=False,
        validators=[WECHAT_APP_ID],
        help_text=_("Official account console › Settings and development › Basic configuration."),
    )
    app_secret = SecretField(label=_("AppSecret"), validators=[WECHAT_APP_SECRET])
    token = SecretField(
        label=_("Token"),
        validators=[WECHAT_TOKEN],
        help_text=_("The same token you type in WeChat's server configuration: it signs every message."),
    )
    encryption = forms.ChoiceField(
        label=_("Message encryption"),
        choices=ENCRYPTION,
        initial="safe",
        help_text=_("Choose what WeChat's server configuration says. Safe mode refuses unencrypted posts."),
    )
    encoding_aes_key = SecretField(
        label=_("EncodingAESKey"),
        validators=[wechat_aes_key_validate],
        help_text=_("43 characters, from WeChat's server configuration; needed for compatible and safe mode."),
    )
    api_base_url = api_base_url_field(WeChatAdapter.default_api_base_url)
    config_keys = {"encryption": "encryption", "api_base_url": "api_base_url"}
    # The app id is not secret, but the adapter reads it from the credentials (it also keys the cipher).
    secret_keys = {"app_secret": "app_secret", "token": "token", "encoding_aes_key": "encoding_aes_key"}
    sections = [
        (_("WeChat official account"), {"fields": ("app_id", "app_secret", "token", "encryption", "encoding_aes_key")}),
        ADVANCED,
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["app_id"].initial = (self.instance.credentials or {}).get("app_id", "")
        if self.instance.pk and not (self.instance.config or {}).get("encryption"):
            self.fields["encryption"].initial = "compatible"  # what the adapter does without the setting

    def required_fields(self, cleaned: dict[str, Any]) -> tuple[str, ...]:
        needed = ("app_id", "app_secret", "token")
        return (*needed, "encoding_aes_key") if cleaned.get("encryption") in ("compatible", "safe") else needed

    def settings_apply(self) -> None:
        super().settings_apply()
        self.instance.credentials = {**self.instance.credentials, "app_id": self.cleaned_data["app_id"]}


class ApiInboxForm(InboxSettingsForm):
    kind = "api"
    always_required = ("callback_url", "secret")
    callback_url = forms.URLField(
        label=_("Callback URL"),
        required=False,
        assume_scheme="https",
        validators=[HTTP_URL],
        help_text=_("Where Switchboard POSTs replies and the connection check's ping (HTTPS in production)."),
        widget=forms.URLInput(attrs={"size": 60}),
    )
    secret = SecretField(
        label=_("Signing secret"),
        validators=[API_SECRET],
        help_text=_(
            "Shared with your connector: both sides sign with it. Make one with e.g. `openssl rand -hex 32` and "
            "give it to the connector too; it is not shown again."
        ),
    )
    replay_window_s = forms.IntegerField(
        label=_("Replay window (seconds)"),
        required=False,
        min_value=30,
        max_value=3600,
        help_text=_("How far a request's timestamp may be from our clock; blank for the default (300)."),
    )
    config_keys = {"callback_url": "callback_url", "replay_window_s": "replay_window_s"}
    secret_keys = {"secret": "secret"}
    sections = [(_("API channel"), {"fields": ("callback_url", "secret", "replay_window_s")})]

    def required_fields(self, cleaned: dict[str, Any]) -> tuple[str, ...]:
        return ("callback_url", "secret")


INBOX_SETTINGS_FORMS: dict[str, type[InboxSettingsForm]] = {
    form.kind: form
    for form in (WebInboxForm, WhatsAppInboxForm, TelegramInboxForm, WeChatInboxForm, SmsInboxForm, ApiInboxForm)
}


# Every form field that takes a secret, whatever the kind.
SECRET_FIELDS = tuple(sorted({field for form in INBOX_SETTINGS_FORMS.values() for field in form.secret_keys}))


def settings_form_for(kind: str | None) -> type[InboxSettingsForm] | None:
    return INBOX_SETTINGS_FORMS.get(kind or "")
