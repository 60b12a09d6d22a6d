"""Models of the tickets package."""
