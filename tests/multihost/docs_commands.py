"""The multi-host page's commands, read as the tests run them: docs/multi-host.md marks each role's shell
block with `<!-- host: ROLE -->` (native processes) or `<!-- compose-host: ROLE -->` (Docker Compose) on the
line before it. A block is `export NAME=value` lines (what a user fills in; the test gives its own values)
and then one command, run from the repo root.
"""
import os
import re

from tests.support import REPO_ROOT

PAGE = os.path.join(REPO_ROOT, "docs", "multi-host.md")
_BLOCK = r"<!-- {kind}: ([a-z-]+) -->\n```sh\n(.*?)```"
_EXPORT = re.compile(r"export ([A-Z_]+)=(\S+)")


class RoleCommand:
    def __init__(self, role, exports, command):
        self.role, self.command = role, command
        self.exports = exports  # {NAME: the page's example value}
        self.variables = list(exports)

    def argv(self):
        """`sh -c` over the command as written (the shell expands its "$VARIABLES"; exec keeps the pid)."""
        return ["sh", "-c", f"exec {self.command}"]


def role_commands(page=PAGE, kind="host"):
    """{role: RoleCommand} of every block marked `kind` ("host": native, "compose-host": Docker Compose)."""
    with open(page) as f:
        text = f.read()
    commands = {}
    for role, body in re.findall(_BLOCK.format(kind=kind), text, re.S):
        exports, command = {}, []
        for line in body.splitlines():
            line = line.split("  #", 1)[0].strip()
            if not line:
                continue
            match = _EXPORT.fullmatch(line)
            if match:
                exports[match.group(1)] = match.group(2)
            else:
                command.append(line.rstrip("\\").strip())
        assert role not in commands, f"{page}: two blocks for host {role!r}"
        commands[role] = RoleCommand(role, exports, " ".join(command))
    return commands
