from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # Meta's webhook: /whatsapp/webhook/
    path("whatsapp/", include("wacloud_django.urls")),
    # The web inbox (docs/inbox.md).
    path("inbox/", include("wacloud_django.inbox.urls")),
]
