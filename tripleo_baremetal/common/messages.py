"""How messages show values: cut to a readable length, never raising.

Every stage names the value a problem is about, and a value may be a
10 MB string, a structure nested thousands of levels deep or an integer
of 5000 digits: ``shown`` and ``cut`` keep a message short whatever the
value, ``Hidden`` stands for a value that must never appear (config
drive contents), and ``key_text``/``join`` build the key paths
(``defaults.image.href``, ``instances[3]``) messages start with.
"""

import reprlib

#: Passed as the value of a report when there is no value to show.
MISSING = object()

#: Characters of a value shown in a message before it is cut.
MAX_SHOWN = 100

#: Characters of a mapping key shown in a key path before it is cut.
MAX_KEY_SHOWN = 40

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = MAX_SHOWN
_REPR.maxother = MAX_SHOWN
_REPR.maxlong = MAX_SHOWN


class Hidden(object):
    """A value that must not appear in messages; ``shown`` describes it."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        kind = type(self.value).__name__
        if isinstance(self.value, (str, bytes, list, dict)):
            return '<hidden %s of length %d>' % (kind, len(self.value))
        return '<hidden %s>' % kind


def cut(text, limit=MAX_SHOWN):
    """``text`` itself, or its first ``limit`` characters and its length.

    Anything else than a string (a mapping key may be an int, or None,
    in a YAML file) is ``shown``, so that a message never fails to build.
    """
    if not isinstance(text, str):
        return shown(text, limit)
    if len(text) <= limit:
        return text
    return '%s... (%d characters)' % (text[:limit], len(text))


def shown(value, limit=MAX_SHOWN):
    """How a message shows ``value``: its repr, cut to about ``limit``.

    Strings longer than ``limit`` show their start and their length;
    containers show at most a few items and levels (``reprlib``), so that
    neither a 10 MB string nor a huge or deep structure makes a huge
    message. Never raises.
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return '%r... (%d characters)' % (value[:limit], len(value))
    if isinstance(value, Hidden):
        return repr(value)
    try:
        text = _REPR.repr(value)
    except Exception:   # a repr that fails, e.g. an int of 5000 digits
        text = '<%s>' % type(value).__name__
    if len(text) > limit:
        size = len(value) if isinstance(value, (list, dict, tuple)) else None
        text = '%s...%s' % (text[:limit], ' (%d items)' % size
                            if size is not None else '')
    return text


def key_text(key):
    """A mapping key as text for a key path (any key, never raises)."""
    return key if isinstance(key, str) else shown(key, MAX_KEY_SHOWN)


def join(path, key):
    """Extend a key path: ``join('image', 'href') == 'image.href'``.

    An int is a list index (``path[3]``); give mapping keys as text
    (``key_text``). Long keys are cut (``MAX_KEY_SHOWN``) so that a key
    path stays short.
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return '%s[%d]' % (path, key)
    key = key_text(key)
    if len(key) > MAX_KEY_SHOWN:
        key = '%s...' % key[:MAX_KEY_SHOWN]
    return '%s.%s' % (path, key) if path else key
