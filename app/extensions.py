"""Unbound extension objects, bound to the app in create_app()."""

from flask_babel import Babel
from flask_migrate import Migrate
from flask_smorest import Api

from app.db import db

__all__ = ["api", "babel", "db", "migrate"]

api = Api()
babel = Babel()
migrate = Migrate()
