"""Output of GET /api/v1/ops/queues (API.md "Operators")."""

from rest_framework import serializers


class AgeCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    oldest_age_seconds = serializers.FloatField(allow_null=True, help_text="Age of the oldest item; null when empty.")


class QueueSerializer(AgeCountSerializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    threshold_seconds = serializers.IntegerField(allow_null=True)
    breached = serializers.BooleanField(help_text="The oldest item is older than the queue's threshold.")


class ThroughputSerializer(serializers.Serializer):
    minute = serializers.DateTimeField()
    placed = serializers.IntegerField()
    paid = serializers.IntegerField()
    fulfilled = serializers.IntegerField()


class CelerySerializer(serializers.Serializer):
    queues = serializers.DictField(child=serializers.IntegerField(allow_null=True),
                                   help_text="Messages waiting per broker queue (null: broker unreachable).")
    workers_online = serializers.IntegerField(allow_null=True, help_text="null: the broker could not be asked.")
    tasks_failed_last_hour = serializers.IntegerField()


class OpsQueuesOutputSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    scope = serializers.ChoiceField(choices=["all", "exhibitor"],
                                    help_text="`exhibitor`: only orders with lines of the caller's exhibitors.")
    orders = serializers.DictField(
        child=AgeCountSerializer(),
        help_text="Per open order state (pending_payment, paid_awaiting_fulfilment, needs_attention, …).",
    )
    fulfilment_failures = AgeCountSerializer(help_text="Paid orders fulfilment could not complete (needs attention).")
    unprocessed_payment_events = AgeCountSerializer(
        allow_null=True, help_text="Payment-provider events not processed yet or failed; null for exhibitor staff "
                                   "and when payments keep no event inbox.")
    queues = QueueSerializer(many=True)
    throughput = ThroughputSerializer(many=True, help_text="Orders per minute over the last hour, oldest first.")
    celery = CelerySerializer(allow_null=True, help_text="null for exhibitor staff.")
