from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from server.auth.roles import Role


class CheckboxListField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


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
    )
    active = BooleanField("Account is active", default=True)
    submit = SubmitField("Save")
