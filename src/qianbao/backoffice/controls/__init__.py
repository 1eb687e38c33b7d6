"""Operators' run-time controls from the shell (``qianbao controls``)."""
