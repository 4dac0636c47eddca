"""The extract: land one batch folder of the landing zone into schema `analytics`, idempotently."""
