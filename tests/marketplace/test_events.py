"""The kernel's domain events and after-commit enqueue (marketplace/events.py, marketplace/tasks.py)."""

import pytest
from django.db import transaction

from marketplace import events
from marketplace.tasks import enqueue_on_commit


@pytest.fixture
def registry(monkeypatch):
    """A clean subscriber registry for the test (the apps' real subscribers stay untouched)."""
    fresh: dict = events.defaultdict(list)
    monkeypatch.setattr(events, "_subscribers", fresh)
    return fresh


@pytest.mark.django_db(transaction=True)
def test_after_commit_subscribers_run_once_committed_and_in_transaction_ones_at_once(registry):
    seen: list[tuple[str, object]] = []

    @events.subscriber("thing.done")
    def later(*, thing_id):
        seen.append(("after_commit", thing_id))

    @events.subscriber("thing.done", when="in_transaction")
    def now(*, thing_id):
        seen.append(("in_transaction", thing_id, transaction.get_connection().in_atomic_block))

    # When the event is emitted inside a transaction
    with transaction.atomic():
        events.emit("thing.done", thing_id=7)
        # Then only the in-transaction subscriber has run, inside it
        assert seen == [("in_transaction", 7, True)]

    # and the other once it committed
    assert seen == [("in_transaction", 7, True), ("after_commit", 7)]


@pytest.mark.django_db(transaction=True)
def test_nothing_after_commit_runs_when_the_transaction_rolls_back(registry):
    seen: list[int] = []
    events.subscriber("thing.done")(lambda *, thing_id: seen.append(thing_id))

    def emit_then_fail():
        with transaction.atomic():
            events.emit("thing.done", thing_id=1)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        emit_then_fail()

    assert seen == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_is_logged_and_the_others_still_run(registry, caplog):
    seen: list[int] = []

    @events.subscriber("thing.done")
    def broken(*, thing_id):
        raise ValueError("boom")

    @events.subscriber("thing.done")
    def fine(*, thing_id):
        seen.append(thing_id)

    with transaction.atomic():
        events.emit("thing.done", thing_id=3)

    assert seen == [3]
    assert events.subscribers_of("thing.done") == [f"{__name__}.{broken.__qualname__}", f"{__name__}.{fine.__qualname__}"]


def test_registering_the_same_function_twice_keeps_one(registry):
    def handler(**_):
        return None

    events.subscriber("x")(handler)
    events.subscriber("x")(handler)

    assert len(registry["x"]) == 1


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_sends_by_task_name_after_commit_only(monkeypatch):
    from config.celery import app

    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append((name, options["kwargs"])))

    with transaction.atomic():
        enqueue_on_commit("fulfilment.fulfil_order", order_id="o-1")
        assert sent == []
    def enqueue_then_fail():
        with transaction.atomic():
            enqueue_on_commit("fulfilment.fulfil_order", order_id="o-2")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        enqueue_then_fail()

    assert sent == [("fulfilment.fulfil_order", {"order_id": "o-1"})]


@pytest.mark.django_db(transaction=True)
def test_a_broker_error_at_enqueue_is_logged_not_raised(monkeypatch):
    from config.celery import app

    def down(name, **options):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", down)

    with transaction.atomic():
        enqueue_on_commit("notifications.send_batch", notification_ids=[1])
    # Then the committed work stands and nothing was raised
