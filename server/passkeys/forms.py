"""The one passkey form: its name (the ceremonies themselves are JSON, driven by passkeys.js)."""

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from server.passkeys.operations import NAME_MAX_LENGTH


class PasskeyNameForm(FlaskForm):
    name = StringField(
        "Name for this passkey",
        validators=[
            DataRequired("Give the passkey a name, such as the device it is on."),
            Length(
                max=NAME_MAX_LENGTH,
                message=f"Keep the name to {NAME_MAX_LENGTH} characters or fewer.",
            ),
        ],
        description="So you can tell your passkeys apart, for example “School iPad” or “Phone”.",
        render_kw={"maxlength": NAME_MAX_LENGTH, "autocomplete": "off"},
    )
    submit = SubmitField("Save")
