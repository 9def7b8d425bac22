"""The office's controls over who does what: users and roles (C5), the yearly ID review (C6), batch accounts,
hours and terminals (C13), and the audit log's search, verification and alarms (C4)."""
