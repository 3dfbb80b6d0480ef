"""Every error of the sessions app, with its stable code (part of the public API).

Rendered by `gateway.errors.exception_handler` as the failure envelope. Node errors of the
history and number-check RPCs (`node_timeout`, `node_error`) are `workers_app.errors`'.
"""

import math
from datetime import datetime

from django.utils import timezone

from gateway.errors import Conflict, GatewayError, NotFound
from gateway.metrics import rate_limit_refused
from gateway.timefmt import iso_utc

# --- Sessions ----------------------------------------------------------------------------------


class SessionNotFound(NotFound):
    code = "session_not_found"
    message = "Session not found."


class SessionNotConnected(Conflict):
    code = "session_not_connected"
    message = "Session is not connected."


class SessionAlreadyConnected(Conflict):
    code = "session_already_connected"
    message = "Session is already connected."


class SessionHasNoNode(Conflict):
    code = "session_has_no_node"
    message = "Session has never been connected, so no node holds it; connect it first."


class SessionNotAwaitingScan(Conflict):
    code = "session_not_awaiting_scan"
    message = "Session is not waiting for a QR scan or a pairing code."


class QrExpired(Conflict):
    code = "qr_expired"
    message = "That QR code has expired or was replaced; scan the current one."


class NotSandboxSession(Conflict):
    code = "not_sandbox_session"
    message = "Sandbox actions are only for sessions with engine 'sandbox'."


class PhoneNumberRequired(GatewayError):
    code = "phone_number_required"
    message = "phoneNumber is required for the pairing_code method."
    http_status = 400


class KeyBoundToSession(GatewayError):
    code = "api_key_session_scoped"
    message = "This API key is bound to one session and cannot manage others."
    http_status = 403


# --- Messages ----------------------------------------------------------------------------------


class MessageNotFound(NotFound):
    code = "message_not_found"
    message = "Message not found."


class IdempotencyKeyMismatch(GatewayError):
    code = "idempotency_key_mismatch"
    message = "This Idempotency-Key was used with a different request body."
    http_status = 422


class InvalidIdempotencyKey(GatewayError):
    code = "invalid_idempotency_key"
    message = "Idempotency-Key must be 1 to 100 printable ASCII characters."
    http_status = 400


class NewNumberDailyCap(GatewayError):
    """429: the session's number was linked recently and its own daily cap of sends (the
    session's pacing settings) is used up until `resets_at`; nothing was written."""

    code = "new_number_daily_cap"
    http_status = 429

    def __init__(self, *, limit: int, resets_at: datetime, linked_at: datetime) -> None:
        retry_after_s = max(1, math.ceil((resets_at - timezone.now()).total_seconds()))
        super().__init__(
            f"This session's number was linked at {iso_utc(linked_at)}, and a new number sends "
            f"at most {limit} messages a UTC day (its pacing settings); retry at "
            f"{iso_utc(resets_at)}.",
            fields={"limit": limit, "resetsAt": iso_utc(resets_at), "linkedAt": iso_utc(linked_at)},
        )
        self.headers = {"Retry-After": str(retry_after_s)}
        rate_limit_refused(self.code, "new_number")


# --- Media -------------------------------------------------------------------------------------


class MediaNotFound(NotFound):
    code = "media_not_found"
    message = "Media not found."


class MediaTooLarge(GatewayError):
    code = "media_too_large"
    message = "The file is larger than this message type allows."
    http_status = 413


class MediaTypeMismatch(GatewayError):
    code = "media_type_mismatch"
    message = "The file's content does not fit the message type."
    http_status = 422


class MediaInvalid(GatewayError):
    code = "invalid_media"
    message = "The media could not be read."
    http_status = 400


class MediaDownloadFailed(GatewayError):
    code = "media_download_failed"
    message = "The media URL could not be downloaded."
    http_status = 422


class MediaDownloadTimeout(GatewayError):
    code = "media_download_timeout"
    message = "The media URL did not deliver the file in time."
    http_status = 422


# --- User webhooks -----------------------------------------------------------------------------


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    message = "Webhook not found."


class WebhookDeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    message = "Webhook delivery not found."


class WebhookDisabled(Conflict):
    code = "webhook_disabled"
    message = "Webhook is disabled; enable it before replaying."


class DeliveryInProgress(Conflict):
    code = "delivery_in_progress"
    message = "This delivery is being sent right now."


class ReplayWindowPassed(Conflict):
    code = "replay_window_passed"
    message = "This delivery is too old to replay."


# --- Groups (what WhatsApp said, node_agent.engines.base.GroupError's codes) --------------------


class GroupNotFound(NotFound):
    code = "group_not_found"
    message = "No such group, or this account cannot see it."


class GroupNotAdmin(GatewayError):
    code = "not_admin"
    message = "Only the group's admins can do this."
    http_status = 403


class GroupNotParticipant(GatewayError):
    code = "not_participant"
    message = "This account is not in the group."
    http_status = 403


class GroupInviteInvalid(NotFound):
    code = "invite_invalid"
    message = "This invite link or code is not valid (revoked, expired or unknown)."


class GroupAlreadyParticipant(Conflict):
    code = "already_participant"
    message = "This account is in the group already."


class GroupsUnsupported(Conflict):
    code = "groups_unsupported"
    message = "This session's engine has no groups."


class WhatsAppRefused(GatewayError):
    """WhatsApp refused a call for a reason the gateway has no code of; `message` is its words."""

    code = "whatsapp_error"
    message = "WhatsApp refused the request."
    http_status = 422


# --- Contacts and profiles ----------------------------------------------------------------------


class ContactNotFound(NotFound):
    code = "contact_not_found"
    message = "No such person on WhatsApp, or the session does not know them."


class ContactsUnsupported(Conflict):
    code = "contacts_unsupported"
    message = "This session's engine cannot do this with contacts or the profile."


class PictureNotFound(NotFound):
    code = "picture_not_found"
    message = "No profile picture, or it is hidden from this account."


class UnknownLastEventId(GatewayError):
    code = "unknown_last_event_id"
    message = (
        "No event of yours has this id (it is older than the stream keeps, or was never yours): "
        "connect without Last-Event-ID and read what you missed from the delivery log."
    )


class TooManyStreams(GatewayError):
    code = "too_many_streams"
    message = "Too many event streams open for this account (STREAM_CLIENTS_PER_USER)."
    http_status = 429


class ChatNotFound(NotFound):
    code = "chat_not_found"
    message = "The session has no such chat (no message in it yet)."


class ChatsUnsupported(Conflict):
    code = "chats_unsupported"
    message = "This session's engine cannot do this with chats or presence."
