"""The transactional outbox: "position closed" events delivered once to each consumer."""

from __future__ import annotations

from django.db import models


class OutboxEvent(models.Model):
    """Written in the same transaction as the close it reports."""

    kind = models.CharField(max_length=40, default="position_closed")
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "copytrading_outboxevent"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class OutboxDelivery(models.Model):
    """That ``consumer`` handled ``event``; committed together with the consumer's own writes."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    consumer = models.CharField(max_length=60)
    delivered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "copytrading_outboxdelivery"
        constraints = [models.UniqueConstraint(fields=["event", "consumer"], name="outbox_delivery_once")]

    def __str__(self) -> str:
        return f"{self.consumer} ← {self.event_id}"
