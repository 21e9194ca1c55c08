"""conversations/<id>/assign: the REST door of services.assignment, the service the inbox's
chat page calls, with the same role (``reply``: agents and above)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ...models import Conversation
from ...services.assignment import AssignmentRefused, assign_conversation, not_assignable
from ..base import ApiView, documented, ok
from ..errors import ApiError


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(
        allow_null=True, help_text="a member's user id (an agent or above), or null to unassign"
    )


class ConversationAssignView(ApiView):
    actions = {"POST": "reply"}

    @documented(
        request=AssignSerializer,
        responses=inline_serializer(
            "AssignAnswer",
            {
                "success": serializers.BooleanField(),
                "conversation": serializers.IntegerField(),
                "assignee": serializers.DictField(allow_null=True),
            },
        ),
    )
    def post(self, request: Any, pk: int) -> Response:
        conversation = self.get_scoped_object(Conversation.objects.select_related("account"), pk=pk)
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user_id = body.validated_data["assignee"]
        try:
            assignee = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
            if user_id is not None and assignee is None:  # told apart from a stranger by nothing
                raise AssignmentRefused(not_assignable(user_id, self.organization))
            assign_conversation(conversation, assignee)
        except AssignmentRefused as refused:
            raise ApiError(400, "INVALID_ASSIGNEE", str(refused), {"assignee": str(refused)}) from None
        shown = {"id": assignee.pk, "username": assignee.get_username()} if assignee is not None else None
        return ok({"conversation": conversation.pk, "assignee": shown})
