"""Store analytics: storefront traffic, daily rollups, repurchase, RFM segments."""
