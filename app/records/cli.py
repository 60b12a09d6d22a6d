"""``flask records …``."""

from __future__ import annotations

from flask import Blueprint

cli = Blueprint("records_cli", __name__, cli_group="records")
