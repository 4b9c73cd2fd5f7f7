"""Recording incidents: the form, the incident, its actions, files and corrections."""
