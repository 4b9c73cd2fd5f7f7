from flask import render_template

from server.auth.access import signed_in
from server.home import bp


@bp.route("/")
@signed_in
def index():
    return render_template("home/index.html")
