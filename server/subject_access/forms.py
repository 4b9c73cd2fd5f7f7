from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length


class StartForm(FlaskForm):
    staff = BooleanField(
        "Redact staff names",
        default=True,
        description="Staff acting in their job are often named in a release: "
        "decide each one after.",
    )
    third_parties = BooleanField(
        "Redact third parties’ words",
        default=True,
        description="Speech in quotation marks, and accounts recorded on behalf of someone "
        "without an account. Quotations may be the pupil’s own words: check each one.",
    )


class PhraseForm(FlaskForm):
    phrase = StringField(
        "Also redact these words",
        validators=[DataRequired("Give the words to redact."), Length(min=2, max=200)],
        description="Every place they appear, as whole words, in any case.",
    )
