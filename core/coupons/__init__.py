"""The coupons engine: templates, members' coupons, and the coupon pricing stage."""
