"""``path("inbox/", include("wacloud_django.inbox.urls"))``: the web inbox (docs/inbox.md)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import settings_views, template_views, views

app_name = "wacloud_inbox"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="wacloud/inbox/login.html",
            redirect_authenticated_user=True,
            next_page="wacloud_inbox:conversations",  # without ?next=, not LOGIN_REDIRECT_URL
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="wacloud_inbox:login"), name="logout"),
    path("", views.conversation_list, name="conversations"),
    path("c/<int:pk>/", views.chat, name="chat"),
    path("c/<int:pk>/thread/", views.thread, name="thread"),
    path("c/<int:pk>/send/", views.send, name="send"),
    path("c/<int:pk>/template-preview/", views.template_preview, name="template-preview"),
    path("c/<int:pk>/archive/", views.archive, name="archive"),
    path("c/<int:pk>/assign/", views.assign, name="assign"),
    path("c/<int:pk>/typing/", views.typing, name="typing"),
    path("media/<int:pk>/", views.media, name="media"),
    path("templates/", settings_views.template_list, name="templates"),
    path("templates/new/", template_views.template_create, name="template-new"),
    path("templates/<int:pk>/", settings_views.template_detail, name="template"),
    path("templates/sync/", settings_views.template_sync, name="templates-sync"),
    path("templates/register/", settings_views.template_register, name="templates-register"),
    path("integrations/", settings_views.integration_list, name="integrations"),
    path("integrations/new/", settings_views.integration_form, name="integration-new"),
    path("integrations/<int:pk>/", settings_views.integration_form, name="integration"),
    path("integrations/<int:pk>/test/", settings_views.integration_test, name="integration-test"),
    path("integrations/<int:pk>/toggle/", settings_views.integration_toggle, name="integration-toggle"),
    path("integrations/<int:pk>/register/", settings_views.integration_register, name="integration-register"),
    path("analytics/", settings_views.analytics, name="analytics"),
]
