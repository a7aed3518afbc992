"""The workflows' numeric options, checked before any API call.

``concurrency``, ``batch_size``, ``timeout`` and ``max_fail_percentage``
reach Mistral's expressions (``with-items`` concurrency, the batch size)
and the actions as the caller typed them: a value such as ``'20'``,
``-1`` or ``true`` would otherwise fail, or be taken for another value,
deep inside a step after nodes are reserved. ``check_run_options``
refuses such a value with one line naming the option and the value, in
the words the roles file's own checks use (``roles_schema``).
"""

from tripleo_baremetal.request import role_expansion
from tripleo_baremetal.request import roles_schema as schema

#: The check of each option: an integer in its range.
OPTIONS = {
    'concurrency': schema.integer(1),
    'batch_size': schema.integer(0),
    'timeout': schema.integer(1),
    'max_fail_percentage': schema.integer(0, 100, 'percent'),
}

_CHECK = schema.mapping(OPTIONS)


def check_run_options(options):
    """Refuse any of ``options`` (``{name: value}``) that is not valid.

    Options that are absent or None are not checked (the workflow's
    defaults apply); names not in ``OPTIONS`` are refused, so that a
    workbook passing a misspelt option is caught by the tests.

    :raises: InvalidInput listing every bad option.
    """
    if options is None:
        return
    problems = role_expansion.Problems()
    if isinstance(options, dict):
        options = {name: value for name, value in options.items()
                   if value is not None}
    _CHECK(options, '', problems.reporter(''))
    problems.raise_errors()
