"""Notifications: the outbox, the events plugins declare, templates, subscriptions and the
WeChat subscribe-message sender."""
