"""The back office (issue 11): operators' roles, maker-checker approvals, the audit log, their
one-time passwords; and the key commands of data at rest."""
