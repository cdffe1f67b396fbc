"""The role-free parts of the web consoles: how a page's language and labels are chosen, session and CSRF
tokens, page rendering (Jinja2, strict headers), the base template and the style sheet.

Each console (the platform's under `platform_node/console/`, a source unit administrator's under
`source_node/governance/console/`) keeps its own labels, routes and templates and builds on these; nothing
here knows a role, a store or a web framework, so both roles import it without importing each other.
"""
