from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import path

from planner import views

urlpatterns = [
    path("", views.index),
    path("admin/", admin.site.urls),
]

urlpatterns += static(settings.STATIC_URL, document_root=settings.STATIC_ROOT)
