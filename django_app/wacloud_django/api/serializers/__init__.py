"""Serializers validate and shape; only services write."""
