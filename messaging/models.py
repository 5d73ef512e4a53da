from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

# Forward-only order of delivery states; failed/cancelled end a message wherever it was.
STATUS_RANK = {"pending": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4, "played": 5}
TERMINAL = frozenset({"failed", "cancelled"})


class SendJob(models.Model):
    """What one accepted request created: a single send or a batch (``job_id``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="send_jobs")
    kind = models.CharField(max_length=10, default="single")
    api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "t_message_job"

    def __str__(self) -> str:
        return f"job {self.pk} ({self.kind})"


class Media(models.Model):
    """A file a tenant uploaded (or a URL we fetched for them), kept in our storage (S3 in production)."""

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        AUDIO = "audio", _("Audio")
        STICKER = "sticker", _("Sticker")
        FILE = "file", _("File")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="media")
    file = models.FileField(upload_to="media/%Y/%m/", max_length=300)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    content_type = models.CharField(
        max_length=100, help_text="Detected from the bytes, not the client's header"
    )
    size = models.PositiveBigIntegerField()
    filename = models.CharField(max_length=255, blank=True, default="")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    source_url = models.URLField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "t_media"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.filename or self.pk} ({self.size} B)"


class Message(models.Model):
    class Direction(models.TextChoices):
        OUT = "out", _("Outgoing")
        IN = "in", _("Incoming")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        PLAYED = "played", _("Played")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")
        RECEIVED = "received", _("Received")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="messages")
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="messages")
    job = models.ForeignKey(
        SendJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUT)
    type = models.CharField(max_length=20, default="text")
    recipient = models.CharField(max_length=100, help_text="Digits, or a group/LID JID", db_index=True)
    sender = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    error_code = models.CharField(max_length=50, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    gowa_message_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    reply_to_message_id = models.CharField(max_length=100, blank=True, default="")
    media = models.ForeignKey(
        Media, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    media_url = models.URLField(max_length=2000, blank=True, default="", help_text="Fetched by the worker")
    # Set on inbound replies to an interactive menu: {"menu_id", "kind", "selected_id", "title"}.
    interaction = models.JSONField(null=True, blank=True)
    original_payload_json = models.JSONField(default=dict, blank=True)
    payload_json = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When a delayed retry is due")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="An async message still unsent by then (device offline) fails"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "t_message"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="message_tenant_recent"),
            models.Index(fields=["status", "updated_at"], name="message_status_age"),
            models.Index(fields=["device", "direction", "created_at"], name="message_device_period"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.type} → {self.recipient} ({self.status})"


class MessageStatusChange(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=10)
    at = models.DateTimeField()
    detail = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        db_table = "t_message_status_history"
        ordering = ["id"]  # the order changes were recorded in; `at` may be GOWA's receipt time

    def __str__(self) -> str:
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class InteractiveMenu(models.Model):
    """A numbered text menu we sent for buttons/lists; the chat's next matching reply resolves it."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="+")
    chat = models.CharField(max_length=100, help_text="Recipient digits or JID")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="menu")
    kind = models.CharField(max_length=10)  # button | list
    options = models.JSONField(help_text='[{"number": 1, "id": "btn_1", "title": "Ya"}, …]')
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    selected_id = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        db_table = "t_interactive_menu"
        indexes = [models.Index(fields=["device", "chat", "-created_at"], name="menu_chat_recent")]

    def __str__(self) -> str:
        return f"{self.kind} menu to {self.chat}"


class IdempotencyKey(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "t_idempotency_key"
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="uniq_idempotency_key")]

    def __str__(self) -> str:
        return self.key


class GowaEvent(models.Model):
    """Every GOWA webhook, stored raw before it is acted on; ``dedupe_key`` makes retries harmless."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    node = models.ForeignKey("devices.GowaNode", on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=50)
    dedupe_key = models.CharField(max_length=255)
    session_id = models.CharField(max_length=100, blank=True, default="")
    device_jid = models.CharField(max_length=100, blank=True, default="")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "t_gowa_event"
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["node", "dedupe_key"], name="uniq_gowa_event")]
        indexes = [models.Index(fields=["status", "received_at"], name="gowa_event_status_age")]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"


class Contact(models.Model):
    """Someone a device has heard from (an inbound 1:1 message) or found in GOWA's contact list."""

    class Source(models.TextChoices):
        INBOUND = "inbound", _("Inbound message")
        SYNC = "sync", _("Contact sync")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="contacts")
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="contacts")
    jid = models.CharField(
        max_length=100, help_text="…@s.whatsapp.net, or …@lid when WhatsApp hides the number"
    )
    phone = models.CharField(max_length=20, blank=True, default="", help_text="Digits; empty for a LID")
    name = models.CharField(max_length=200, blank=True, default="", help_text="Push name or contact name")
    source = models.CharField(max_length=10, choices=Source.choices, help_text="How we first learned of it")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(help_text="Last inbound message (or the sync that found it)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "t_contact"
        ordering = ["-last_seen_at", "jid"]
        constraints = [models.UniqueConstraint(fields=["device", "jid"], name="uniq_contact_device_jid")]
        indexes = [models.Index(fields=["device", "-last_seen_at"], name="contact_device_recent")]

    def __str__(self) -> str:
        return f"{self.name or self.phone or self.jid}"


class AutoReplyRule(models.Model):
    """Keyword → reply. Rules of one device or of all the tenant's devices (``device`` empty)."""

    class Match(models.TextChoices):
        EXACT = "exact", _("Whole message equals the keyword")
        CONTAINS = "contains", _("Message contains the keyword")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="auto_reply_rules")
    device = models.ForeignKey(
        "devices.Device",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="auto_reply_rules",
        help_text="Empty = every device of the tenant",
    )
    keyword = models.CharField(max_length=200, help_text="Matched case-insensitively")
    match = models.CharField(max_length=10, choices=Match.choices, default=Match.CONTAINS)
    reply = models.JSONField(help_text='A single-send body with its type, e.g. {"type": "text", "text": "…"}')
    enabled = models.BooleanField(default=True)
    priority = models.IntegerField(default=0, help_text="Higher first; ties: the older rule first")
    reply_to_groups = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "m_auto_reply_rule"
        ordering = ["-priority", "created_at", "id"]
        indexes = [models.Index(fields=["tenant", "enabled"], name="auto_reply_tenant_enabled")]

    def __str__(self) -> str:
        return f"{self.match} {self.keyword!r}"
