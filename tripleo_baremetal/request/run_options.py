"""The workflows' numeric options, checked before any API call.

``concurrency``, ``batch_size``, ``timeout`` and ``max_fail_percentage``
reach Mistral's expressions (``with-items`` concurrency, the batch size)
and the actions as the caller typed them: a value such as ``'20'``,
``-1`` or ``true`` would otherwise fail, or be taken for another value,
deep inside a step after nodes are reserved. ``check_run_options``
refuses such a value with one line naming the option and the value.
"""

from tripleo_baremetal.common import messages
from tripleo_baremetal import exceptions

#: ``option: (least value, greatest value or None, what it means)``.
RANGES = {
    'concurrency': (1, None, 'deploys or undeploys at once'),
    'batch_size': (0, None, 'nodes per deploy action, 0: chosen'),
    'timeout': (1, None, 'seconds'),
    'max_fail_percentage': (0, 100, 'a percentage of the request'),
}


def _problem(name, value):
    """What is wrong with one option's value, or None."""
    least, greatest, meaning = RANGES[name]
    bound = ('from %d to %d' % (least, greatest) if greatest is not None
             else '%d or more' % least)
    if (isinstance(value, int) and not isinstance(value, bool)
            and value >= least and (greatest is None or value <= greatest)):
        return None
    return '%s must be an integer %s (%s), got %s' % (
        name, bound, meaning, messages.shown(value))


def check_run_options(options):
    """Refuse any of ``options`` (``{name: value}``) that is not valid.

    Options that are absent or None are not checked (the workflow's
    defaults apply); names not in ``RANGES`` are refused, so that a
    workbook passing a misspelt option is caught by the tests.

    :raises: InvalidInput listing every bad option.
    """
    unknown = sorted(set(options or {}) - set(RANGES))
    if unknown:
        raise exceptions.InvalidInput('unknown run option(s): %s' % ', '.join(
            messages.cut(str(name)) for name in unknown))
    problems = [_problem(name, value)
                for name, value in sorted((options or {}).items())
                if value is not None]
    problems = [problem for problem in problems if problem]
    if problems:
        raise exceptions.InvalidInput(problems)
