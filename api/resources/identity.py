"""/v1/auth/* and /v1/me: thin adapters from HTTP to services.identity."""

from __future__ import annotations

import falcon

from api import schemas
from api.pages import render, wants_html
from api.spec import operation
from models.identity import User
from services.errors import InvalidToken

TAGS = ("identity",)
ACCEPTED = "If the address can receive it, an email is on its way."


def user_out(user: User) -> dict:
    return schemas.UserOut(
        id=user.id, email=user.email, full_name=user.full_name,
        email_confirmed=user.email_confirmed_at is not None, created_at=schemas.utc(user.created_at),
    ).model_dump(mode="json")


def tokens_out(pair) -> dict:
    return schemas.TokenPairOut(access_token=pair.access_token, refresh_token=pair.refresh_token,
                                expires_in=pair.expires_in).model_dump(mode="json")


def accepted(resp: falcon.Response) -> None:
    resp.status = 202
    resp.media = schemas.AcceptedOut(message=ACCEPTED).model_dump()


class Register:
    @operation("Create an account; sends the confirmation email", tags=TAGS, body=schemas.RegisterIn,
               responses={201: schemas.UserOut}, errors={409: ["email_taken"], 422: ["validation_error"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.context.body
        user = req.context.deps.identity.register(body.email, body.password, body.full_name)
        resp.status = 201
        resp.media = user_out(user)


class Confirm:
    @operation("Confirm an email address from the emailed link; sends the welcome email once", tags=TAGS,
               query=schemas.TokenQuery,
               responses={200: schemas.ConfirmedOut, "html": "An HTML page when the client prefers text/html"},
               errors={400: ["invalid_token"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        html = wants_html(req)
        try:
            token = req.context.query.token
            if not token:
                raise InvalidToken("The link has no token.")
            user = req.context.deps.identity.confirm_email(token)
        except InvalidToken as exc:
            if not html:
                raise
            render(resp, "confirm.html", status=400, ok=False, code=exc.code, detail=exc.detail)
            return
        if html:
            render(resp, "confirm.html", ok=True, email=user.email)
        else:
            resp.media = schemas.ConfirmedOut().model_dump()


class ResendConfirmation:
    @operation("Send the confirmation email again (always 202: no enumeration)", tags=TAGS,
               body=schemas.EmailIn, responses={202: schemas.AcceptedOut},
               errors={422: ["validation_error"], 429: ["rate_limited"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.deps.identity.resend_confirmation(req.context.body.email)
        accepted(resp)


class Login:
    @operation("Sign in with email and password", tags=TAGS, body=schemas.LoginIn,
               responses={200: schemas.TokenPairOut},
               errors={401: ["invalid_credentials"], 403: ["email_not_confirmed"], 422: ["validation_error"],
                       429: ["too_many_attempts"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.context.body
        resp.media = tokens_out(req.context.deps.identity.login(body.email, body.password))


class Refresh:
    @operation("Exchange a refresh token for a new pair; the old one is spent", tags=TAGS,
               body=schemas.RefreshIn, responses={200: schemas.TokenPairOut},
               errors={401: ["invalid_token"], 422: ["validation_error"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = tokens_out(req.context.deps.identity.refresh(req.context.body.refresh_token))


class Logout:
    @operation("Revoke a refresh token and its family", tags=TAGS, body=schemas.RefreshIn,
               responses={204: None}, errors={422: ["validation_error"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.deps.identity.logout(req.context.body.refresh_token)
        resp.status = 204


class Me:
    @operation("The signed-in user", tags=TAGS, auth=True, responses={200: schemas.UserOut},
               errors={401: ["unauthenticated"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = user_out(req.context.user)


class PasswordReset:
    @operation("Email a single-use password reset link valid for one hour (always 202)", tags=TAGS,
               body=schemas.EmailIn, responses={202: schemas.AcceptedOut},
               errors={422: ["validation_error"], 429: ["rate_limited"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.deps.identity.request_password_reset(req.context.body.email)
        accepted(resp)


class PasswordResetConfirm:
    @operation("The page the reset email links to: a form that posts the new password", tags=TAGS,
               query=schemas.TokenQuery, responses={"html": "An HTML form"})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        render(resp, "password_reset.html", token=req.context.query.token or "")

    @operation("Set a new password with the emailed token; revokes every session", tags=TAGS,
               body=schemas.PasswordResetConfirmIn, responses={204: None},
               errors={400: ["invalid_token"], 422: ["validation_error"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.context.body
        req.context.deps.identity.reset_password(body.token, body.password)
        resp.status = 204


ROUTES = [
    ("/v1/auth/register", Register()),
    ("/v1/auth/confirm", Confirm()),
    ("/v1/auth/resend-confirmation", ResendConfirmation()),
    ("/v1/auth/login", Login()),
    ("/v1/auth/refresh", Refresh()),
    ("/v1/auth/logout", Logout()),
    ("/v1/me", Me()),
    ("/v1/auth/password-reset", PasswordReset()),
    ("/v1/auth/password-reset/confirm", PasswordResetConfirm()),
]
