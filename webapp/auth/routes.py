"""Views for logging in and out, switching language, and personal settings."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from .. import audit, clock, notifications
from ..extensions import db
from ..security import user_by_username
from . import bp, passwords, throttle, tokens
from .forms import EmptyForm, LocaleForm, LoginForm, PasswordForm, PreferencesForm, TokenForm

logger = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: no open redirect through ``next``."""
    if not target or urlsplit(target).netloc or urlsplit(target).scheme or not target.startswith("/") \
            or target.startswith("//") or "\\" in target:
        return url_for("inbox.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        username, address = form.username.data.strip(), request.remote_addr or "-"
        wait = throttle.blocked_for(username, address)
        if wait is not None:
            minutes = max(1, round(wait.total_seconds() / 60))
            flash(_("Too many failed attempts. Try again in %(n)s minute(s).", n=minutes), "error")
            return render_template("auth/login.html", form=form), 429
        user = user_by_username(username)
        if user is None:
            passwords.dummy_verify(form.password.data)
            valid = False
        else:  # verify even for a deactivated account: same time either way
            valid = passwords.verify_password(user.password_hash, form.password.data) and user.active
        if not valid:
            logger.info("failed login from %s", address)
            throttle.record_failure(username, address)
            db.session.commit()
            flash(_("The user name or password is not correct."), "error")
            return render_template("auth/login.html", form=form), 401
        throttle.clear(username)
        locale = session.get("locale")
        session.clear()  # a fresh session on login: nothing carried over from before (fixation)
        if locale:
            session["locale"] = locale
        login_user(user)
        user.last_login_at = clock.now()
        audit.record("login", actor_id=user.id)
        db.session.commit()
        return redirect(_safe_next(form.next.data))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/locale", methods=["POST"])
def set_locale():
    form = LocaleForm()
    if not form.validate_on_submit() or form.locale.data not in ("ja", "en"):
        abort(400)
    session["locale"] = form.locale.data
    if current_user.is_authenticated:
        current_user.locale = form.locale.data
        db.session.commit()
    return redirect(_safe_next(form.next.data))


def _settings_page(status: int = 200, **forms):
    context = {
        "preferences": PreferencesForm(prefix="pref", locale=current_user.locale),
        "password": PasswordForm(prefix="pw"),
        "token_form": TokenForm(prefix="tok"),
        "new_token": None,
    }
    context.update(forms)
    return render_template("auth/settings.html", tokens=tokens.for_user(current_user),
                           events=notifications.EVENTS, chosen=notifications.preferences(current_user),
                           **context), status


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    if request.method == "POST":
        form = PreferencesForm(prefix="pref")
        if not form.validate_on_submit():
            return _settings_page(400, preferences=form)
        current_user.locale = form.locale.data
        db.session.commit()
        flash(_("Your settings were saved."), "success")
        return redirect(url_for("auth.settings"))
    return _settings_page()


@bp.route("/settings/notifications", methods=["POST"])
@login_required
def notification_settings():
    """Per kind of event: at once, in the daily digest (task events), or not at all."""
    choices = {key: request.form.get(f"notify-{key}", "") for key in notifications.EVENTS}
    try:
        notifications.set_preferences(current_user, choices)
    except ValueError:
        abort(400)
    db.session.commit()
    flash(_("Your notification settings were saved."), "success")
    return redirect(url_for("auth.settings"))


@bp.route("/settings/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordForm(prefix="pw")
    if form.validate_on_submit():
        user = current_user._get_current_object()  # the object, not the proxy
        problems = passwords.change(user, form.current.data, form.new.data)
        if not problems:
            db.session.commit()
            login_user(user)  # this session carries the new epoch; the others end
            flash(_("Your password was changed. Other sessions have been logged out."), "success")
            return redirect(url_for("auth.settings"))
        for name, messages in problems.items():
            getattr(form, name).errors.extend(messages)
    return _settings_page(400, password=form)


@bp.route("/settings/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm(prefix="tok")
    if not form.validate_on_submit():
        return _settings_page(400, token_form=form)
    _row, token = tokens.create(current_user, form.name.data)
    db.session.commit()
    return _settings_page(new_token=token)


@bp.route("/settings/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    """:raise 404: not one of the user's own active tokens"""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if not tokens.revoke(current_user, token_id):
        abort(404)
    db.session.commit()
    flash(_("The token was revoked."), "success")
    return redirect(url_for("auth.settings"))
