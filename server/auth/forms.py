"""Forms for signing in, resetting and changing passwords, and unlocking the screen."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length


class SignInForm(FlaskForm):
    email = EmailField(
        "School email address",
        validators=[DataRequired("Enter your school email address."), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    # The policy asks staff never to let a browser remember the password.
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Sign in")


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "School email address",
        validators=[DataRequired("Enter your school email address."), Length(max=254)],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    submit = SubmitField("Send me a reset link")


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), Length(max=128)],
        render_kw={"autocomplete": "new-password"},
        description="At least 8 characters, mixing upper- and lower-case letters, digits and "
        "symbols. Common passwords are refused.",
    )
    confirm = PasswordField(
        "New password again",
        validators=[
            DataRequired("Type the new password again."),
            EqualTo("password", "The two passwords do not match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Set password")


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Change password")


class UnlockForm(FlaskForm):
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password to unlock."), Length(max=128)],
        render_kw={"autocomplete": "current-password", "autofocus": True},
    )
    submit = SubmitField("Unlock")
