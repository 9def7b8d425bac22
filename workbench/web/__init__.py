"""The web face: the server that guards the dashboards, and the kernel's side of its login.

:mod:`workbench.web.sessions` holds the sessions and kernel tickets (no web framework);
:mod:`workbench.web.server` is the Voila application; :mod:`workbench.web.kernel` is what a
dashboard kernel calls to become the logged-in person's session.
"""
