"""The inbox filter and the admin's alert-rules form."""

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField
from wtforms.fields.choices import SelectChoice

from server.alerts.rules import RULE_RECIPIENTS, Event
from server.forms import CheckboxListField


class InboxFilterForm(FlaskForm):
    """Read from the query string: a filter changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    show = RadioField(
        "Show",
        choices=[SelectChoice("all", "All alerts"), SelectChoice("unread", "Unread only")],
        default="all",
    )
    family = SelectField("Category", choices=[SelectChoice("", "All categories")], default="")

    def set_families(self, families) -> None:
        self.family.choices = [SelectChoice("", "All categories")] + [
            SelectChoice(str(family.id), family.name) for family in families
        ]

    @property
    def family_id(self) -> int | None:
        return int(self.family.data) if self.family.data else None

    @property
    def unread_only(self) -> bool:
        return self.show.data == "unread"


def _recipients_field(event: Event) -> CheckboxListField:
    return CheckboxListField(
        event.label,
        choices=[SelectChoice(reason.value, reason.label) for reason in RULE_RECIPIENTS[event]],
        validate_choice=True,
    )


class AlertRulesForm(FlaskForm):
    incident = _recipients_field(Event.INCIDENT)
    sensitive_incident = _recipients_field(Event.SENSITIVE_INCIDENT)
    action = _recipients_field(Event.ACTION)

    def chosen(self) -> dict[Event, set[str]]:
        return {event: set(self[event.value].data or ()) for event in Event}
