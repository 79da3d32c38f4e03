"""URLs of the administration pages (``/manage/``; see :mod:`.manage_users`,
:mod:`.manage_centres` and :mod:`.manage_tokens` for their tables of URLs, methods and
names)."""

from __future__ import annotations

from django.urls import URLPattern, path

from openect.web.pages import manage_centres, manage_tokens, manage_users

urlpatterns: list[URLPattern] = [
    path("manage/", manage_users.index, name="manage"),
    path("manage/users/", manage_users.users, name="manage-users"),
    path("manage/new-user/", manage_users.user_new, name="manage-user-new"),
    path("manage/users/<str:username>/", manage_users.user_detail, name="manage-user"),
    path("manage/users/<str:username>/role/", manage_users.user_role, name="manage-user-role"),
    path(
        "manage/users/<str:username>/active/",
        manage_users.user_active,
        name="manage-user-active",
    ),
    path(
        "manage/users/<str:username>/second-factor/reset/",
        manage_users.user_second_factor,
        name="manage-user-second-factor",
    ),
    path("manage/centres/", manage_centres.centres, name="manage-centres"),
    path("manage/centres/<str:centre_id>/", manage_centres.centre, name="manage-centre"),
    path("manage/tokens/", manage_tokens.tokens, name="manage-tokens"),
    path(
        "manage/tokens/<int:token_id>/revoke/",
        manage_tokens.token_revoke,
        name="manage-token-revoke",
    ),
]
