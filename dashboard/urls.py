"""Dashboard pages, mounted at /dashboard/ (namespace `dashboard`). Each capability appends its routes."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("devices/", views.DevicesView.as_view(), name="devices"),
    path("devices/<uuid:device_id>/", views.DeviceDetailView.as_view(), name="device_detail"),
    path("devices/<uuid:device_id>/status/", views.DeviceStatusView.as_view(), name="device_status"),
    path("send/", views.SendView.as_view(), name="send"),
    path("messages/", views.MessagesView.as_view(), name="messages"),
    path("messages/<uuid:message_id>/", views.MessageDetailView.as_view(), name="message_detail"),
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/members/<int:membership_id>/", views.TeamMemberView.as_view(), name="team_member"),
    path(
        "team/invitations/<uuid:invitation_id>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
]
