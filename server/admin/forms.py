from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SearchField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from server.auth.roles import Role
from server.forms import CheckboxListField
from server.pupils.operations import PUPIL_STATUSES


class UserForm(FlaskForm):
    full_name = StringField(
        "Full name", validators=[DataRequired("Enter the full name."), Length(max=120)]
    )
    initials = StringField(
        "Initials",
        validators=[Length(max=8)],
        description="Shown beside everything they record. Leave blank to use the name's initials.",
    )
    email = EmailField(
        "School email address",
        validators=[DataRequired("Enter the school email address."), Length(max=254)],
    )
    roles = CheckboxListField(
        "Roles",
        choices=[SelectChoice(role.value, role.label) for role in Role],
        validators=[DataRequired("Choose at least one role.")],
        description="Class teachers are alerted for their class. Only the designated safeguarding "
        "lead, senior leadership and pastoral see Safeguarding incidents. Every role but "
        "Administrator reads incidents, so giving one (or changing the email of someone who "
        "reads incidents) waits for a designated safeguarding lead to approve it. Administrators "
        "manage people and settings but never read incidents.",
    )
    active = BooleanField("Account is active", default=True)
    submit = SubmitField("Save")


class ClassTeachersForm(FlaskForm):
    teachers = CheckboxListField(
        "Class teachers",
        coerce=int,
        validate_choice=False,  # the roster function refuses anyone ineligible, with a reason
        description="Class teachers are alerted for their class's pupils. Only active staff with "
        "the Class teacher role are listed.",
    )
    submit = SubmitField("Save class teachers")


class PupilSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a search sent by GET changes nothing

    q = SearchField("Name or UPN", validators=[Optional(), Length(max=100)])
    class_id = SelectField("Class", coerce=int, default=0)
    status = SelectField(
        "Show",
        choices=[SelectChoice(value, label) for value, label in PUPIL_STATUSES.items()],
        default="on_roll",
    )


class RosterImportForm(FlaskForm):
    kind = RadioField(
        "What the file holds",
        choices=[
            SelectChoice("pupils", "Pupils, exported from the MIS"),
            SelectChoice("staff", "Staff"),
        ],
        default="pupils",
        validators=[InputRequired("Choose whether the file holds pupils or staff.")],
    )
    file = FileField(
        "CSV file",
        validators=[
            FileRequired("Choose a CSV file to upload."),
            FileAllowed(["csv", "txt"], "Upload a .csv file (in Excel: Save As › CSV UTF-8)."),
        ],
        description="Columns are described in docs/roster-import.md. Bad rows are refused "
        "one by one, with the reason; good rows are imported.",
    )
    dry_run = BooleanField("Check only — do not save")
    mark_leavers = BooleanField(
        "Mark pupils not in this file as left",
        default=True,
        description="For a full export of the school roll. Untick when importing only part "
        "of the school. Nobody is marked as left if any row is refused.",
    )
    # Sent by the confirmation box the report shows when a file would mark many pupils as left:
    # its value is the number confirmed, so it only confirms a file that marks exactly that many.
    confirm_leavers = IntegerField(
        "Confirm pupils to mark as left",
        validators=[Optional(), NumberRange(min=1, message="Enter a number of pupils.")],
    )
    submit = SubmitField("Import")
