"""Inbox views: the task list, and a task page with its decision form."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import access, clock, engine, forms_support, formschema, presenters, testhooks
from ..extensions import db
from ..models import ProcessDefinition
from ..views_support import get_task_for
from . import bp, queries


@bp.route("/")
@login_required
def index():
    f = queries.InboxFilter.from_args(request.args, current_user)
    page = queries.list_tasks(current_user, f, current_app.config["INBOX_PAGE_SIZE"])
    if f.scope == "mine":
        g.open_task_count = page.counts["open"]  # the menu's badge counts the same
    processes = db.session.execute(db.select(ProcessDefinition.key, ProcessDefinition.name)
                                   .distinct().order_by(ProcessDefinition.key)).all()
    return render_template("inbox/index.html", page=page, f=f, processes=dict(processes),
                           contracts=access.visible_contracts(current_user),
                           can_see_all=access.scope_for(current_user).sees_all, now=clock.now())


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int):
    """A task, its request and history, and (for those who may act) its form.

    :raise 404: no such task, or not visible to the user
    :raise 403: a rule forbids this user completing it (four eyes, Art. 15(2)), or not their role
    :raise 409: someone completed it first (the page names who and when)
    """
    task = get_task_for(current_user, task_id)
    instance = task.instance
    start_task = instance.definition.meta.get("start_task") or ""
    correction = task.spec_id == start_task  # the requester answering a send-back
    schema = engine.form_for(instance.definition, task.spec_id)
    ctx = formschema.FormContext(instance.contract, current_user, instance.id)
    status = 200
    if request.method == "POST":
        engine.check_may_complete(task, instance, current_user)  # before anything is stored
        result, state = forms_support.submit(
            schema, lambda data: engine.complete(task_id, data, current_user, from_html=True),
            instance_id=instance.id)
        if state is None:
            done = _("“%(title)s” is done. Reference %(ref)s.", title=task.title, ref=instance.reference)
            testhooks.pause("before_commit")
            db.session.commit()
            flash(done, "success")  # composed before the commit, which expires every loaded row
            return redirect(url_for("inbox.index"))
        status = 400
    else:
        initial = instance.request_data if correction else {}
        state = forms_support.state_for(schema, initial, instance.id)
    refusal = engine.why_not(task, current_user)  # also "already done"
    start_schema = engine.form_for(instance.definition, start_task)
    return render_template(
        "inbox/task.html", task=task, instance=instance, can_act=refusal is None, state=state,
        schema=formschema.resolve(schema, ctx) if schema else None,
        request_fields=presenters.fields(start_schema, instance.request_data, ctx),
        steps=presenters.steps(instance), history=presenters.history(instance),
        attachments=presenters.attachments(instance),
        documentation=instance.definition.task_meta(task.spec_id).get("documentation", ""), now=clock.now(),
        sent_back=queries.sent_back_by(instance.id) if correction else None, notices=presenters.notices(instance), refusal=refusal,
    ), status
