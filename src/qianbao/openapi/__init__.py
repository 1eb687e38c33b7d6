"""Open platform (开放平台): apps and keys, the signed gateway, notifications to merchants."""
