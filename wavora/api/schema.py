"""The OpenAPI schema in English, like the API it describes (SPEC §3).

Model choice labels are translated for the dashboard (`gettext_lazy`), and drf-spectacular writes them
into enum descriptions; without this the schema would follow the default language (Indonesian) both at
`/api/schema/` and in `manage.py spectacular`.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from drf_spectacular.generators import SchemaGenerator


class EnglishSchemaGenerator(SchemaGenerator):
    def get_schema(self, request: Any = None, public: bool = False) -> Any:
        with translation.override("en"):
            return super().get_schema(request=request, public=public)
