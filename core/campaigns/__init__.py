"""Targeted coupon campaigns: a coupon to every member of a segment, a tag or a filter."""
