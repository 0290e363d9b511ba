"""The multi-host page's native commands, read as the tests run them: docs/multi-host.md marks each role's
shell block with `<!-- host: ROLE -->` on the line before it. A block is `export NAME=value` lines (the
addresses a user fills in; the test gives its own) and then one command, run from the repo root.
"""
import os
import re

from tests.support import REPO_ROOT

PAGE = os.path.join(REPO_ROOT, "docs", "multi-host.md")
_BLOCK = re.compile(r"<!-- host: ([a-z-]+) -->\n```sh\n(.*?)```", re.S)
_EXPORT = re.compile(r"export ([A-Z_]+)=(\S+)")


class RoleCommand:
    def __init__(self, role, variables, command):
        self.role, self.variables, self.command = role, variables, command

    def argv(self):
        """`sh -c` over the command as written (the shell expands its "$VARIABLES"; exec keeps the pid)."""
        return ["sh", "-c", f"exec {self.command}"]


def role_commands(page=PAGE):
    """{role: RoleCommand} of every marked block."""
    with open(page) as f:
        text = f.read()
    commands = {}
    for role, body in _BLOCK.findall(text):
        variables, command = [], []
        for line in body.splitlines():
            line = line.split("  #", 1)[0].strip()
            if not line:
                continue
            match = _EXPORT.fullmatch(line)
            if match:
                variables.append(match.group(1))
            else:
                command.append(line.rstrip("\\").strip())
        assert role not in commands, f"{page}: two blocks for host {role!r}"
        commands[role] = RoleCommand(role, variables, " ".join(command))
    return commands
