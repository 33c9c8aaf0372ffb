"""Delivery channels (email now; SMS and WhatsApp join behind the same interface)."""
