"""Dashboard pages for accounts: sign up, log in and out, API keys."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import LogoutView, redirect_to_login
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from accounts.forms import ApiKeyCreateForm, LoginForm, SignupForm
from accounts.models import ApiKey, User
from accounts.services import api_key_create, api_key_revoke, user_create
from accounts.signup import signup_request, signup_verify
from billing.ratelimits import rate_hit
from gateway.once import show_once, take_once


class HtmxHttpRequest(HttpRequest):
    """A request seen through django-htmx's middleware (for type hints only)."""

    htmx: HtmxDetails
    user: User  # type: ignore[assignment]


View = Callable[..., HttpResponse]


def dashboard_login_required(view: View) -> View:
    """Like `login_required`, but an htmx request (a poll) makes the whole page go to login.

    A plain redirect would be followed by htmx and the login page swapped into a panel. A user
    suspended since they logged in is logged out.
    """

    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and request.user.suspended_at is not None:
            logout(request)
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            return HttpResponseClientRedirect(resolve_url(settings.LOGIN_URL))
        return redirect_to_login(request.get_full_path())

    return wrapper


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@require_http_methods(["GET", "POST"])
def signup(request: HtmxHttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        address = get_client_ip_address(request) or "unknown"
        state = rate_hit("signup", limit=settings.SIGNUPS_PER_HOUR, identity=address, window_s=3600)
        if state is not None and not state.allowed:  # None: counters out of reach
            form.add_error(
                None,
                f"Too many sign-ups from this address; try again in {state.reset_s // 60 + 1} min.",
            )
            return render(request, "accounts/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        email, password = form.cleaned_data["email"], form.cleaned_data["password1"]
        if settings.SIGNUP_EMAIL_VERIFICATION:
            signup_request(request=request, email=email, password=password)
            return render(request, "accounts/signup_sent.html", {"email": email})
        user = user_create(email=email, password=password)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/signup.html", {"form": form})


@require_GET
def signup_verify_view(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """The link of a sign-up's e-mail: activates the account and logs it in, once; a link
    used before sends to the login page."""
    user, activated = signup_verify(token)
    if user is None:
        return render(request, "accounts/signup_link_invalid.html", status=400)
    if not activated:
        messages.info(request, "Your address is already confirmed: log in with your password.")
        return redirect("accounts:login")
    user.refresh_from_db()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(settings.LOGIN_REDIRECT_URL)


@require_http_methods(["GET", "POST"])
def login_view(request: HtmxHttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = LoginForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        assert form.user is not None
        login(request, form.user)
        return redirect(_next_url(request))
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
    )


logout_view = LogoutView.as_view()


@dashboard_login_required
@require_GET
def account(request: HtmxHttpRequest) -> HttpResponse:
    """The user's account: e-mail, password change, keys and the API docs."""
    return render(request, "accounts/account.html")


class PasswordChange(SuccessMessageMixin, auth_views.PasswordChangeView):
    """Django's password change (it keeps this browser logged in), back to the account page."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")
    success_message = "Password changed."


ISSUED_KEY = "api_key_secret"
THEN_SESSIONS = "sessions"  # a create form's `then`: show the new key on the Sessions page


def _api_keys_page(
    request: HtmxHttpRequest, form: ApiKeyCreateForm, issued_secret: str = "", status: int = 200
) -> HttpResponse:
    keys = ApiKey.objects.for_owner(request.user).select_related("session")
    response = render(
        request,
        "accounts/api_keys.html",
        {"form": form, "api_keys": keys, "issued_secret": issued_secret},
        status=status,
    )
    if issued_secret:
        # The one response that carries a secret must not be kept by any cache.
        add_never_cache_headers(response)
    return response


@dashboard_login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HtmxHttpRequest) -> HttpResponse:
    """List the user's keys; a POST creates one and redirects here, which shows its secret once.

    The secret waits in the server-side session for that one page (gateway.once), never in a
    URL; a reload after it shows nothing and creates nothing.
    """
    form = ApiKeyCreateForm(request.POST or None, owner=request.user)
    if request.method == "POST":
        if not form.is_valid():
            return _api_keys_page(request, form, status=400)
        issued = api_key_create(
            owner=request.user,
            name=form.cleaned_data["name"],
            session=form.cleaned_data["session"],
        )
        show_once(request, ISSUED_KEY, issued.secret)
        messages.success(request, f"API key “{issued.api_key.name}” created.")
        if request.POST.get("then") == THEN_SESSIONS:  # the getting-started card's button
            return redirect("sessions:list")
        return redirect("accounts:api_keys")
    return _api_keys_page(request, form, take_once(request, ISSUED_KEY) or "")


@dashboard_login_required
@require_POST
def api_key_revoke_view(request: HtmxHttpRequest, api_key_id: int) -> HttpResponse:
    if api_key_revoke(owner=request.user, api_key_id=api_key_id):
        messages.success(request, "API key revoked.")
    else:
        messages.error(request, "No active key of yours has that id.")
    return redirect("accounts:api_keys")
