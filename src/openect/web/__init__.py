"""Web application and REST API of the registry (Django, django-ninja), for clinicians and
registry staff: pages rendered on the server, the same services and permissions as the
command line."""
