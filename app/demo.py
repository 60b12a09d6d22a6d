"""``flask demo seed``: placeholder, replaced below in this change."""

from flask import Blueprint

demo_cli = Blueprint("demo_cli", __name__, cli_group="demo")
