"""Merchant onboarding: applications, their review, and the merchant's web sign-in."""
