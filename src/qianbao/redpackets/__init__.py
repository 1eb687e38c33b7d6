"""Red packets (红包): personal and group packets, pre-split at creation, claimed first come first
served, credited across units by message, the unclaimed rest returned after 24 hours."""
