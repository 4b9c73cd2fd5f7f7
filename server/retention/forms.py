from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Give the reason."), Length(max=2000)],
    )
