"""Payments and refunds: providers (sandbox, WeChat Pay v3), payment attempts, after-sales."""
