"""The forms on the incident page: add an action, change the status, correct (dsl)."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from server.forms import CheckboxListField
from server.incidents.models import Incident


class ActionForm(FlaskForm):
    text = TextAreaField(
        "Action or outcome",
        validators=[DataRequired("Write what was done or needs doing."), Length(max=20_000)],
        description="What was done, or what needs doing. Outcomes are recorded as actions too.",
    )
    assignee_id = SelectField("Assign to (optional)", coerce=str, validators=[Optional()])
    due_on = DateField("Due by (optional)", validators=[Optional()])
    on_behalf_name = StringField("Recorded on behalf of: name", validators=[Length(max=120)])
    on_behalf_role = StringField("Their role", validators=[Length(max=120)])


class StatusForm(FlaskForm):
    kind = RadioField(
        "Status",
        id="status-kind",
        choices=[
            SelectChoice("closed", "Close"),
            SelectChoice("no_further_action", "No further action"),
            SelectChoice("monitoring", "Monitor: keep it open and watch"),
            SelectChoice("monitoring_ended", "Stop monitoring (back to open)"),
            SelectChoice("reopened", "Reopen"),
        ],
        validators=[DataRequired("Choose a status.")],
    )
    note = TextAreaField(
        "Note", validators=[DataRequired("Write a note saying why."), Length(max=20_000)]
    )


def status_form(applicable: list[str], formdata=None) -> StatusForm:
    """The status form offering only the changes that apply to the incident now."""
    form = StatusForm(formdata=formdata)
    form.kind.choices = [choice for choice in form.kind.choices if choice.value in applicable]
    return form


class CorrectionForm(FlaskForm):
    kind = RadioField(
        "Correction",
        id="correction-kind",
        choices=[
            SelectChoice("entered_in_error", "Entered in error"),
            SelectChoice("recategorised", "Re-categorise"),
        ],
        validators=[DataRequired("Choose a correction.")],
    )
    reason = TextAreaField(
        "Reason", validators=[DataRequired("Give the reason."), Length(max=20_000)]
    )
    category_ids = CheckboxListField("New categories", coerce=int, validators=[Optional()])


def action_form(assignees, formdata=None) -> ActionForm:
    form = ActionForm(formdata=formdata)
    form.assignee_id.choices = [SelectChoice("", "No one")] + [
        SelectChoice(str(u.id), u.full_name) for u in assignees
    ]
    return form


def correction_form(categories, incident: Incident | None = None, formdata=None):
    form = CorrectionForm(formdata=formdata)
    form.category_ids.choices = [SelectChoice(c.id, c.full_name) for c in categories]
    if incident is not None and formdata is None:
        form.category_ids.data = [c.id for c in incident.categories]
    return form
