"""Fairness pages: spot checks drawn and re-graded, and the inspectors page."""

from flask import Blueprint

bp = Blueprint("fairness", __name__)
