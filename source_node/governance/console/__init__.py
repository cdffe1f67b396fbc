"""The source-unit administrator's web console, served by the node on its admin address under `/console/`:
the unit's catalogue, its data-use approvals (approve by signing in the browser with the unit's key, decline,
suspend, resume, revoke) and its usage report with each line's verification status.

`site.py` answers requests (log-in, sessions, CSRF, signatures); `views.py` reads what each page shows from the
admin desk; `render.py` renders this console's templates over the shared base (`webconsole`); `labels.py` holds
its Chinese and English labels; `static/console.js` signs in the browser.
"""

from source_node.governance.console.site import AdminConsole, ConsoleReply, ConsoleRequest, is_console

__all__ = ["AdminConsole", "ConsoleReply", "ConsoleRequest", "is_console"]
