from django.db import connection
from django.http import HttpResponse

GREETING = "Hello from Django"


def index(request):
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from django_migrations")
        (migrations,) = cursor.fetchone()
    return HttpResponse(f"{GREETING}: {migrations} migrations applied\n", content_type="text/plain")
