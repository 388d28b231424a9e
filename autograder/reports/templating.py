"""The grader's Jinja2 templates: one environment per stage's ``templates/`` folder (package data).

In: a stage's templates folder and a template's name with its values. Out: the rendered text. HTML templates
(``.html.j2``) escape what they are given; a value missing from the context is an error, never an empty string.
"""

from __future__ import annotations

import functools
import pathlib

import jinja2


@functools.cache
def environment(folder: pathlib.Path) -> jinja2.Environment:
    """The Jinja2 environment of the templates in `folder`."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(folder: pathlib.Path, name: str, **values) -> str:
    """The template `name` of `folder` rendered with `values`."""
    return environment(pathlib.Path(folder)).get_template(name).render(**values)
