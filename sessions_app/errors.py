"""Errors of the sessions and messages domain (codes are part of the public API)."""

from gateway.errors import Conflict, GatewayError


class SessionAlreadyConnected(Conflict):
    code = "session_already_connected"
    message = "Session is already connected."


class SessionNotAwaitingScan(Conflict):
    code = "session_not_awaiting_scan"
    message = "Session is not waiting for a QR scan or a pairing code."


class QrExpired(Conflict):
    code = "qr_expired"
    message = "That QR code has expired or was replaced; scan the current one."


class NotSandboxSession(Conflict):
    code = "not_sandbox_session"
    message = "Sandbox actions are only for sessions with engine 'sandbox'."


class SessionHasNoNode(Conflict):
    code = "session_not_started"
    message = "Session has not been connected to a node yet."


class IdempotencyKeyMismatch(GatewayError):
    code = "idempotency_key_mismatch"
    message = "This Idempotency-Key was used with a different request body."
    http_status = 422


class InvalidIdempotencyKey(GatewayError):
    code = "invalid_idempotency_key"
    message = "Idempotency-Key must be 1 to 100 printable ASCII characters."
    http_status = 400


class KeyBoundToSession(GatewayError):
    code = "api_key_session_scoped"
    message = "This API key is bound to one session and cannot manage others."
    http_status = 403


class PhoneNumberRequired(GatewayError):
    code = "phone_number_required"
    message = "phoneNumber is required for the pairing_code method."
    http_status = 400


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


class MediaNotFound(GatewayError):
    code = "media_not_found"
    message = "Media not found."
    http_status = 404


class NodeTimeout(GatewayError):
    code = "node_timeout"
    message = "The session's node did not answer in time; try again."
    http_status = 504


class NodeRequestFailed(GatewayError):
    code = "node_error"
    message = "The session's node could not answer the request."
    http_status = 502
