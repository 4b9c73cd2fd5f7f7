"""Form fields shared by every feature's forms."""

from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class CheckboxListField(SelectMultipleField):
    """Several choices shown as a list of checkboxes (rendered as a fieldset by `_forms.html`)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
