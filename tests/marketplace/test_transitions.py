"""The kernel's transition helper, and the machines of the lower layers that use it (exhibitors)."""

from datetime import UTC, datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from structlog.testing import capture_logs

from apps.exhibitors import services
from apps.exhibitors.models import Exhibitor, ExhibitorStatus
from marketplace.errors import InvalidState
from marketplace.models import AuditEvent
from marketplace.transitions import record_transition, record_transitions, transition
from tests.factories import ExhibitorFactory

pytestmark = pytest.mark.django_db


def _trail(obj) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)),
                                          object_id=str(obj.pk)).order_by("id"))


def test_transition_locks_writes_the_field_and_also_fields_and_an_audit_row(operator):
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.PENDING, description="before")

    with CaptureQueriesContext(connection) as queries:
        changed = transition(Exhibitor, exhibitor.pk, name="approve", to=ExhibitorStatus.APPROVED,
                             allowed_from=[ExhibitorStatus.PENDING], actor=operator, reason="checked booth",
                             payload={"ticket": 7}, also={"approved_by": operator})

    assert changed and changed.changed and (changed.from_state, changed.to_state) == ("pending", "approved")
    sql = [q["sql"] for q in queries.captured_queries]
    assert "FOR UPDATE" in sql[0]
    update = next(q for q in sql if q.startswith("UPDATE"))
    assert '"description"' not in update  # update_fields: only the state, `also` and updated_at
    exhibitor.refresh_from_db()
    assert exhibitor.status == ExhibitorStatus.APPROVED and exhibitor.approved_by == operator
    [event] = _trail(exhibitor)
    assert (event.name, event.from_state, event.to_state, event.actor, event.reason, event.payload) == (
        "approve", "pending", "approved", operator, "checked booth", {"ticket": 7})


def test_transition_called_twice_is_a_logged_no_op():
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.PENDING)
    transition(exhibitor, name="approve", to=ExhibitorStatus.APPROVED, allowed_from=[ExhibitorStatus.PENDING])

    with capture_logs() as logs:
        again = transition(exhibitor, name="approve", to=ExhibitorStatus.APPROVED, allowed_from=[ExhibitorStatus.PENDING])

    assert not again and (again.from_state, again.to_state) == ("approved", "approved")
    assert len(_trail(exhibitor)) == 1
    assert [log["event"] for log in logs] == ["transition_repeated"]
    assert logs[0]["transition"] == "approve" and logs[0]["object_id"] == str(exhibitor.pk)


def test_transition_from_a_wrong_state_raises_and_writes_nothing():
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.SUSPENDED)

    with pytest.raises(InvalidState) as refused:
        transition(Exhibitor, exhibitor.pk, name="approve", to=ExhibitorStatus.APPROVED,
                   allowed_from=[ExhibitorStatus.PENDING], also={"description": "changed"}, detail="nope")

    assert refused.value.detail == "nope"
    exhibitor.refresh_from_db()
    assert exhibitor.status == ExhibitorStatus.SUSPENDED and exhibitor.description != "changed"
    assert _trail(exhibitor) == []


def test_transition_with_a_record_callable_writes_that_instead_of_an_audit_row():
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.PENDING)
    seen = []

    transition(exhibitor, name="approve", to=ExhibitorStatus.APPROVED, allowed_from=[ExhibitorStatus.PENDING],
               payload={"why": "checked"}, record=lambda obj, from_, to, payload: seen.append((obj.pk, from_, to, payload)))

    assert seen == [(exhibitor.pk, "pending", "approved", {"why": "checked"})]
    assert _trail(exhibitor) == []


def test_before_runs_under_the_lock_after_the_check_and_adds_to_the_payload():
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.PENDING)
    seen = []

    def before(obj):
        seen.append(obj.status)  # still the old state: nothing written yet
        return {"released": [1, 2]}

    transition(exhibitor, name="approve", to=ExhibitorStatus.APPROVED, allowed_from=[ExhibitorStatus.PENDING],
               payload={"why": "ok"}, before=before)

    assert seen == ["pending"]
    (event,) = AuditEvent.objects.filter(object_id=str(exhibitor.pk))
    assert event.payload == {"why": "ok", "released": [1, 2]}


def test_before_that_raises_stops_the_transition_and_writes_nothing():
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.PENDING)

    def before(obj):
        raise InvalidState("inventory gone")

    with pytest.raises(InvalidState):
        transition(exhibitor, name="approve", to=ExhibitorStatus.APPROVED, allowed_from=[ExhibitorStatus.PENDING],
                   before=before)

    exhibitor.refresh_from_db()
    assert exhibitor.status == ExhibitorStatus.PENDING and _trail(exhibitor) == []


def test_a_repeatable_transition_records_each_repeat_and_a_wrong_state_gets_a_computed_detail():
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.APPROVED)

    first = transition(exhibitor, name="reapprove", to=ExhibitorStatus.APPROVED, allowed_from=[ExhibitorStatus.APPROVED],
                       repeatable=True)
    second = transition(exhibitor, name="reapprove", to=ExhibitorStatus.APPROVED, allowed_from=[ExhibitorStatus.APPROVED],
                        repeatable=True)
    assert first.changed and second.changed
    assert AuditEvent.objects.filter(object_id=str(exhibitor.pk), name="reapprove").count() == 2

    with pytest.raises(InvalidState) as refused:
        transition(exhibitor, name="submit", to=ExhibitorStatus.PENDING, allowed_from=[ExhibitorStatus.SUSPENDED],
                   detail=lambda obj: f"{obj.slug} is {obj.status}")
    assert refused.value.detail == f"{exhibitor.slug} is approved"


def test_transition_on_a_locked_instance_reads_nothing_again():
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.PENDING)
    locked = Exhibitor.objects.select_for_update().get(pk=exhibitor.pk)

    with CaptureQueriesContext(connection) as queries:
        transition(locked, locked=True, name="approve", to=ExhibitorStatus.APPROVED, allowed_from=[ExhibitorStatus.PENDING])

    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["UPDATE", "INSERT"]


def test_record_transition_and_record_transitions_write_rows_for_changes_already_made(operator):
    one, two = ExhibitorFactory(), ExhibitorFactory()
    record_transition(Exhibitor, one.pk, name="claim", from_state="pending", to_state="approved", actor=operator)
    assert record_transitions(Exhibitor, [one.pk, two.pk], name="batch", from_state="approved", to_state="suspended") == 2
    assert [(e.name, e.actor_id) for e in _trail(one)] == [("claim", operator.pk), ("batch", None)]
    assert [e.to_state for e in _trail(two)] == ["suspended"]


def test_record_transitions_writes_one_statement_with_every_field_for_any_batch(operator):
    exhibitors = [ExhibitorFactory() for _ in range(30)]
    with CaptureQueriesContext(connection) as queries:
        written = record_transitions(Exhibitor, [e.pk for e in exhibitors], name="batch", from_state=None,
                                     to_state=ExhibitorStatus.SUSPENDED, actor=operator, reason="r" * 250,
                                     payload={"when": datetime(2026, 12, 1, tzinfo=UTC), "n": 3})
    assert written == 30
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]
    rows = list(AuditEvent.objects.filter(name="batch").order_by("id"))
    assert [row.object_id for row in rows] == [str(e.pk) for e in exhibitors]  # in the order given
    assert {(r.from_state, r.to_state, r.actor_id, r.reason, r.content_type.model) for r in rows} == {
        ("", "suspended", operator.pk, "r" * 200, "exhibitor")}
    assert rows[0].payload == {"when": "2026-12-01T00:00:00Z", "n": 3}
    assert record_transitions(Exhibitor, [], name="batch", from_state="a", to_state="b") == 0


# --- Exhibitor approval ----------------------------------------------------------------------------


def test_exhibitor_approve_is_audited_and_twice_is_a_no_op(operator):
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.PENDING)
    services.exhibitor_approve(exhibitor=exhibitor, by=operator)
    services.exhibitor_approve(exhibitor=exhibitor, by=operator)
    [event] = _trail(exhibitor)
    assert (event.name, event.from_state, event.to_state, event.actor) == ("approve", "pending", "approved", operator)


def test_exhibitor_suspend_twice_is_one_audit_row(operator):
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.APPROVED)
    services.exhibitor_suspend(exhibitor=exhibitor, by=operator, reason="unpaid booth")
    services.exhibitor_suspend(exhibitor=exhibitor, by=operator)
    exhibitor.refresh_from_db()
    assert exhibitor.status == ExhibitorStatus.SUSPENDED
    [event] = _trail(exhibitor)
    assert (event.name, event.from_state, event.to_state, event.reason) == ("suspend", "approved", "suspended", "unpaid booth")


def test_exhibitor_suspend_from_a_wrong_state_raises(monkeypatch):
    # Every stored state may be suspended or is suspended; an unknown one (a later state) is refused.
    exhibitor = ExhibitorFactory(status=ExhibitorStatus.APPROVED)
    Exhibitor.objects.filter(pk=exhibitor.pk).update(status="archived")
    with pytest.raises(InvalidState):
        services.exhibitor_suspend(exhibitor=exhibitor)
    assert _trail(exhibitor) == []


# --- The admin's trail -----------------------------------------------------------------------------


def test_admin_change_page_shows_the_trail_to_operators_and_to_the_exhibitors_own_staff(client, operator, exhibitor_a,
                                                                                         exhibitor_b, staff_a):
    services.exhibitor_suspend(exhibitor=exhibitor_a, by=operator, reason="unpaid booth")
    services.exhibitor_suspend(exhibitor=exhibitor_b, by=operator, reason="other booth")

    client.force_login(operator)
    page = client.get(f"/admin/exhibitors/exhibitor/{exhibitor_a.pk}/change/").content.decode()
    assert "audit-trail" in page and "unpaid booth" in page and operator.email in page

    client.force_login(staff_a)
    own = client.get(f"/admin/exhibitors/exhibitor/{exhibitor_a.pk}/change/")
    assert own.status_code == 200
    text = own.content.decode()
    assert "unpaid booth" in text and "other booth" not in text
    assert operator.email not in text  # staff see what changed, not which operator did it
    assert client.get(f"/admin/exhibitors/exhibitor/{exhibitor_b.pk}/change/").status_code == 404
