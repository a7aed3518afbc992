"""Mistral's field size limit, checked before Mistral checks it.

Mistral refuses any action result over ``[engine]
execution_field_size_limit_kb`` (1,024 KB by default) with a raw
traceback in the execution's ``state_info``. An action that checks its
own result first can fail with one line instead, naming the option and by
how much it would have to grow (doc/source/scale.md).
"""

import json

from oslo_config import cfg

#: Mistral's default ``execution_field_size_limit_kb``.
DEFAULT_LIMIT_KB = 1024
OPTION = '[engine] execution_field_size_limit_kb'


def limit_kb(conf=None):
    """The limit this process's Mistral configuration sets, in KB.

    The default when Mistral's options are not registered (outside an
    executor); -1 (or any number under 1) means no limit, as in Mistral.
    """
    conf = conf if conf is not None else cfg.CONF
    try:
        return int(conf.engine.execution_field_size_limit_kb)
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError,
            TypeError, ValueError):
        return DEFAULT_LIMIT_KB


def over(size, conf=None):
    """``(size KB, limit KB)`` if ``size`` bytes are over the limit, else None.

    A size of exactly the limit is not over it, as in Mistral.
    """
    limit = limit_kb(conf)
    size = -(-size // 1024)
    if limit < 1 or size <= limit:
        return None
    return size, limit


def over_limit(what, value, conf=None):
    """A one-line message if ``value``'s JSON is over the limit, else None."""
    found = over(len(json.dumps(value, default=str)), conf)
    if found is None:
        return None
    size, limit = found
    return ('%s is %d KB, over %s = %d KB by %d KB: raise the option on '
            'the Mistral engine and executors, or split the request' % (
                what, size, OPTION, limit, size - limit))
