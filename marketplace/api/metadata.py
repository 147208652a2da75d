"""OPTIONS answers (DRF's metadata) for views that follow the house style.

DRF's SimpleMetadata describes the POST/PUT input by calling `view.get_serializer()`, which
asserts that the view names one `serializer_class`. Our views declare an input and an output
serializer per action instead (DESIGN.md habit 2; GenericAPIView only for pagination), so an
OPTIONS request to such a view used to end in that assertion: a 500. Those views now answer DRF's
metadata without `actions`; views with one serializer keep DRF's full answer.

Imported by DRF's settings while rest_framework.views is loading: no module-level import of DRF's
views or generics here.
"""

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class MetadataClass(SimpleMetadata):
    def determine_actions(self, request: "Request", view: "APIView") -> dict[str, Any]:
        from rest_framework.generics import GenericAPIView

        own_lookup = getattr(type(view), "get_serializer_class", GenericAPIView.get_serializer_class)
        names_a_serializer = (getattr(view, "serializer_class", None) is not None
                              or own_lookup is not GenericAPIView.get_serializer_class)
        if not names_a_serializer:
            return {}
        return dict(super().determine_actions(request, view))
