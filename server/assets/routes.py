"""The two ways a static file is asked for: by its fingerprinted URL (cached for a year) and by
its plain one (revalidated each time). Neither reads or writes the session: no cookie is set on
them and they do not vary by cookie, so any cache may keep them."""

from flask import Flask, abort, current_app, request
from werkzeug.routing import BaseConverter

from server.assets import BUILD_PATTERN, assets, current_build
from server.assets.compression import chosen_encoding
from server.auth.access import public_background

A_YEAR = 365 * 24 * 3600


class BuildConverter(BaseConverter):
    """Only a build's shape, so /static/css/… is never read as a build named "css"."""

    regex = BUILD_PATTERN


def register(app: Flask) -> None:
    app.url_map.converters["build"] = BuildConverter
    path = app.static_url_path
    app.add_url_rule(f"{path}/<build:build>/<path:filename>", "static", fingerprinted)
    app.add_url_rule(f"{path}/<path:filename>", "static_unversioned", unversioned)


@public_background
def fingerprinted(build: str, filename: str):
    # A page from another build (a deploy under way) still gets the file, but only the
    # current build's may be kept for a year.
    forever = build == current_build() and not current_app.debug
    return send_asset(filename, forever=forever)


@public_background
def unversioned(filename: str):
    return send_asset(filename, forever=False)


def send_asset(filename: str, *, forever: bool):
    asset = assets().files.find(filename, reread=current_app.debug)
    if asset is None:
        abort(404)
    encoding = chosen_encoding() if asset.compressible else None
    response = current_app.response_class(asset.body(encoding), mimetype=asset.mimetype)
    if asset.compressible:
        response.vary.add("Accept-Encoding")
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.set_etag(asset.etag(encoding))
    if forever:
        response.cache_control.public = True
        response.cache_control.max_age = A_YEAR
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    return response.make_conditional(request)
