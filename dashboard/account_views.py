"""Sign-up, log-in (throttled), log-out, password reset and invitation acceptance."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView

from tenants import services as tenant_services
from tenants.models import Invitation
from tenants.selectors import invitation_by_token
from wavora.api.errors import WavoraError

from . import throttle
from .errors import add_service_error
from .forms import EmailLoginForm, InvitationAcceptSignupForm, SignupForm
from .service_messages import error_message

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _remember_language(response: HttpResponse, language: str) -> HttpResponse:
    codes = {code for code, _name in settings.LANGUAGES}
    if language in codes:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=settings.IS_PRODUCTION,
        )
    return response


class SignupView(FormView):
    template_name = "accounts/signup.html"
    form_class = SignupForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated:
            return redirect("dashboard:overview")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: SignupForm) -> HttpResponse:
        try:
            tenant = tenant_services.tenant_create(
                name=form.cleaned_data["company"],
                owner_email=form.cleaned_data["email"],
                owner_password=form.cleaned_data["password"],
                language="id",
            )
        except WavoraError as exc:
            add_service_error(form, exc, aliases={"name": "company", "owner_email": "email"})
            return self.form_invalid(form)
        user = get_user_model().objects.get(email__iexact=form.cleaned_data["email"])
        login(self.request, user, backend=BACKEND)
        messages.success(self.request, _("Welcome to Wavora! Add your first device to start sending."))
        # A new tenant works in Indonesian until someone switches the language.
        return _remember_language(HttpResponseRedirect(reverse("dashboard:overview")), tenant.language)


class ThrottledLoginView(auth_views.LoginView):
    """Django's log-in by email; repeated failures for one username from one IP are locked out."""

    template_name = "accounts/login.html"
    authentication_form = EmailLoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ip = throttle.client_ip(request)
        username = str(request.POST.get("username", ""))
        wait = throttle.seconds_locked(ip, username)
        if wait:
            # The form is not validated: a locked-out attempt must not even check the password.
            minutes = max(1, -(-wait // 60))
            lockout = _("Too many failed attempts. Try again in %(minutes)d minute(s).") % {
                "minutes": minutes
            }
            form = self.authentication_form(request, initial={"username": username})
            response = self.render_to_response(self.get_context_data(form=form, lockout=lockout))
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.clear(ip, username)
        else:
            throttle.record_failure(ip, username)
        return response


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class InvitationAcceptView(View):
    """The emailed link: join as the signed-in user, or create the account for the invited address."""

    template_name = "accounts/invitation.html"

    def _invitation(self, token: str) -> Invitation:
        invitation = invitation_by_token(token)
        if invitation is None:
            raise Http404(_("This invitation is invalid, expired or already used."))
        return invitation

    def _context(self, request: HttpRequest, invitation: Invitation, form: Any = None) -> dict[str, Any]:
        has_account = get_user_model().objects.filter(email__iexact=invitation.email).exists()
        login_url = f"{reverse('accounts:login')}?next={request.path}"
        return {
            "invitation": invitation,
            "has_account": has_account,
            "login_url": login_url,
            "form": form or InvitationAcceptSignupForm(email=invitation.email),
        }

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = self._invitation(token)
        return render(request, self.template_name, self._context(request, invitation))

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = self._invitation(token)
        form = InvitationAcceptSignupForm(request.POST, email=invitation.email)
        try:
            if request.user.is_authenticated:
                tenant_services.invitation_accept(raw_token=token, user=request.user)
            else:
                if not form.is_valid():
                    context = self._context(request, invitation, form)
                    return render(request, self.template_name, context, status=400)
                membership = tenant_services.invitation_accept_new_account(
                    raw_token=token, password=form.cleaned_data["password"]
                )
                login(request, membership.user, backend=BACKEND)
        except WavoraError as exc:
            form.add_error(None, error_message(exc))
            return render(request, self.template_name, self._context(request, invitation, form), status=400)
        messages.success(request, _("You joined %(team)s.") % {"team": invitation.tenant.name})
        return redirect("dashboard:overview")
