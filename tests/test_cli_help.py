"""`flask --help` says what each command group is for (none is listed without a description)."""

from __future__ import annotations

import re


def test_every_command_group_is_described(app):
    result = app.test_cli_runner().invoke(args=["--help"])
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:", 1)[1]
    listed = dict(re.findall(r"^  (\S+)\s*(.*)$", commands, re.M))
    for group in ("db", "demo", "jobs", "pii", "records", "sla", "supervision", "users"):
        assert listed.get(group), f"flask --help lists {group!r} without a description:\n{commands}"
