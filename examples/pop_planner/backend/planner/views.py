from django.shortcuts import render


def index(request):
    # A session, as the seed's pages use: `relation "django_session" does not exist` until migrate.
    request.session["visits"] = request.session.get("visits", 0) + 1
    return render(request, "index.html", {"visits": request.session["visits"]})
