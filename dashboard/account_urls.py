"""Sign-up, log-in, log-out, password reset and invitations, mounted at /accounts/ (namespace `accounts`)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import account_views as views

app_name = "accounts"

urlpatterns: list[URLPattern | URLResolver] = [
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("invite/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
]
