"""URLs: sign-in (password, then the code of a second factor), the account page, the
pages, the REST API (``/api/``, schema at ``/api/openapi.json``)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from openect.web.api import api
from openect.web.pages import accounts, second_factor

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("login/code/", second_factor.code_step, name="login-code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", second_factor.account, name="account"),
    path("admin/tokens/", accounts.tokens, name="admin-tokens"),
    path("admin/tokens/<int:token_id>/revoke/", accounts.revoke, name="admin-token-revoke"),
    path("api/", api.urls),
    path("", include("openect.web.pages.urls")),
]
