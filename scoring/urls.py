from django.urls import path

from scoring import views

app_name = "scoring"

urlpatterns = [
    path("<int:pk>/sentiment/", views.record_sentiment, name="sentiment"),
    path("<int:pk>/recompute/", views.recompute, name="recompute"),
]
