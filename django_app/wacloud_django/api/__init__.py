"""The REST API (Django REST framework): thin views over the services.

Every view derives from :class:`~wacloud_django.api.base.ApiView`, which owns
authentication, the organization a request acts in, role checks, throttles, the
audit context and 000's error format. docs/api.md documents every endpoint."""
