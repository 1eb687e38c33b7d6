"""Marketing (营销): coupon campaigns, coupons issued to users, coupons at the cashier."""
