"""Users, roles, logins, API tokens and the decorators that guard views."""
