"""Green Points (绿色积分): the application factory."""

from pathlib import Path
from typing import Any

from flask import Flask

from app.config import Config, instance_secret_key, read_environment

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, CLI. No I/O."""
    app = Flask(
        __name__,
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
        instance_path=str(ROOT / "instance"),
    )
    configure(app, config)
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def configure(app: Flask, config: dict[str, Any] | None) -> None:
    app.config.from_object(Config)
    read_environment(app.config)
    app.config.from_prefixed_env("GREENPOINTS")
    if config:
        app.config.update(config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'greenpoints.db'}"
        )
    if not app.config.get("SECRET_KEY"):
        if app.config["GREENPOINTS_ENV"] == "production":
            raise RuntimeError("SECRET_KEY must be set in production.")
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    else:
        # Notice a restarted database (pre-ping) and give up quickly on a dead one.
        options = {"pool_pre_ping": True, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
        options["connect_args"] = {"connect_timeout": 5, **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if read_url := app.config.get("DATABASE_READ_URL"):
        # Reads that may lag (figures, exports) go there: a standby (README, Production).
        from app.db import REPLICA

        binds = app.config.get("SQLALCHEMY_BINDS", {})
        replica = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], "url": read_url}
        app.config["SQLALCHEMY_BINDS"] = {**binds, REPLICA: replica}


def trust_proxies(app: Flask) -> None:
    """Read the client's address and scheme from the configured number of proxies."""
    count = int(app.config["TRUSTED_PROXIES"])
    if count > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only the last `count` X-Forwarded-For entries are the proxies' own: earlier
        # ones come from the client and could be forged to dodge the login limits.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from app.db import configure_engine
    from app.extensions import api, babel, compress, db, migrate
    from app.i18n import check_catalogues, select_locale, select_timezone
    from app.security import init_security
    from app.types import render_item

    # First, so that its after_request runs last and compresses the final body.
    compress.init_app(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine)
    migrate.init_app(
        app,
        db,
        directory=str(ROOT / "migrations"),
        render_as_batch=True,
        render_item=render_item,
        compare_type=True,
    )
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    check_catalogues(app)
    api.init_app(app)
    init_security(app)
    from app.metrics import init_metrics

    init_metrics(app)
    from app.static_files import init_static

    init_static(app)


def register_blueprints(app: Flask) -> None:
    """The API's blueprints (in the order of the OpenAPI document's sections), then the pages'."""
    _register_api()
    _register_pages(app)


def _register_api() -> None:
    from app import checks
    from app.appeals import api as appeals_api
    from app.auth import api as auth_api
    from app.cases import api as cases_api
    from app.catalogue import api as catalogue_api
    from app.extensions import api
    from app.fairness import api as fairness_api
    from app.households import api as households_api
    from app.households import logins as household_logins
    from app.inspections import api as inspections_api
    from app.inspections import roster
    from app.ledger import api as ledger_api
    from app.office import audit_api, grids_api, users_api
    from app.redemptions import api as redemptions_api
    from app.reports import api as reports_api
    from app.townships import api as townships_api

    # The API's order is the order of the OpenAPI document's sections.
    for blp in (
        auth_api.blp,
        grids_api.blp,
        households_api.blp,
        household_logins.blp,
        inspections_api.blp,
        catalogue_api.blp,
        redemptions_api.blp,
        ledger_api.blp,
        checks.blp,
        reports_api.blp,
        users_api.users_blp,
        audit_api.blp,
        townships_api.blp,
        roster.blp,
        cases_api.blp,
        cases_api.figures_blp,
        fairness_api.blp,
        appeals_api.blp,
    ):
        api.register_blueprint(blp)


def _register_pages(app: Flask) -> None:
    from app.appeals import views as appeals_views
    from app.auth import views as auth_views
    from app.cases import desk as _cases_desk  # noqa: F401  (its routes join cases_views.bp)
    from app.cases import offline as _cases_offline  # noqa: F401  (its routes join cases_views.bp)
    from app.cases import open311
    from app.cases import township as _cases_township  # noqa: F401  (its routes join cases_views.bp)
    from app.cases import views as cases_views
    from app.catalogue import views as catalogue_views
    from app.fairness import views as fairness_views
    from app.households import change_views as household_change_views
    from app.households import login_pages as household_login_pages
    from app.households import roster_views
    from app.households import views as households_views
    from app.inspections import roster
    from app.inspections import views as inspections_views
    from app.main import views as main_views
    from app.office import audit_views, grids_views
    from app.office import users_views as _users_views  # noqa: F401  (its routes join auth_views.bp)
    from app.redemptions import views as redemptions_views
    from app.reports import expiry_views
    from app.reports import views as reports_views
    from app.townships import views as townships_views

    for bp in (
        townships_views.bp,
        roster.bp,
        main_views.bp,
        auth_views.bp,
        households_views.bp,
        household_login_pages.bp,
        household_change_views.bp,
        roster_views.bp,
        inspections_views.bp,
        catalogue_views.bp,
        redemptions_views.bp,
        reports_views.bp,
        audit_views.bp,
        expiry_views.bp,
        open311.bp,
        grids_views.bp,
        cases_views.bp,
        fairness_views.bp,
        appeals_views.bp,
    ):
        app.register_blueprint(bp)


def register_error_handlers(app: Flask) -> None:
    from app.errors import register_error_handlers as register

    register(app)


def register_cli(app: Flask) -> None:
    from app.backup.cli import backup_cli
    from app.checks import ledger_cli
    from app.demo.cli import demo_command
    from app.households.cli import households_cli
    from app.office.cli import users_cli, villages_cli

    for command in (villages_cli, users_cli, households_cli, ledger_cli, backup_cli, demo_command):
        app.cli.add_command(command)
    from app.maintenance.cli import maintenance_cli
    from app.townships.cli import townships_cli

    app.cli.add_command(townships_cli)
    from app.cases.cli import cases_cli

    app.cli.add_command(cases_cli)

    app.cli.add_command(maintenance_cli)
