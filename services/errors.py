"""Domain errors. Each carries the stable `code` and HTTP status the API maps it to, once."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}


class Unauthenticated(DomainError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class InvalidCredentials(DomainError):
    status, code, title = 401, "invalid_credentials", "Invalid email or password"


class InvalidRefreshToken(DomainError):
    status, code, title = 401, "invalid_token", "Invalid or expired token"


class InvalidToken(DomainError):
    status, code, title = 400, "invalid_token", "Invalid or expired token"


class EmailNotConfirmed(DomainError):
    status, code, title = 403, "email_not_confirmed", "Email address not confirmed"


class EmailTaken(DomainError):
    status, code, title = 409, "email_taken", "Email already registered"


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class RateLimited(DomainError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class TooManyAttempts(RateLimited):
    code, title = "too_many_attempts", "Too many failed sign-in attempts"


# --- catalogue -----------------------------------------------------------------------------------

class UnknownCategory(DomainError):
    """The API turns this into a field-level 422 on `category_id`."""

    status, code, title = 422, "validation_error", "Unknown category"


class TooManyImages(DomainError):
    status, code, title = 409, "too_many_images", "The product has as many images as it may have"


class UnsupportedImage(DomainError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class ImageTooLarge(DomainError):
    status, code, title = 422, "image_too_large", "Image dimensions too large"


class ImageCorrupt(DomainError):
    status, code, title = 422, "image_corrupt", "Image cannot be decoded"
