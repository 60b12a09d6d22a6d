"""The public JSON API and its OpenAPI document (issue: tickets and complaints)."""
