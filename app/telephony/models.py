"""Models of the telephony package."""
