"""Write oslo.config files from nested dicts."""


def merge(*configs):
    """Merge ``{section: {option: value}}`` dicts; later ones win.

    A value of None removes the option.
    """
    merged = {}
    for config in configs:
        for section, options in (config or {}).items():
            target = merged.setdefault(section, {})
            for option, value in options.items():
                if value is None:
                    target.pop(option, None)
                else:
                    target[option] = value
    return merged


def _format(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return ','.join(str(item) for item in value)
    return str(value)


def write(path, config):
    """Write ``{section: {option: value}}`` to ``path`` as an INI file.

    Booleans become true/false and lists comma-separated strings, as
    oslo.config reads them. ``DEFAULT`` comes first.
    """
    sections = sorted(config, key=lambda name: (name != 'DEFAULT', name))
    lines = []
    for section in sections:
        lines.append('[%s]' % section)
        for option, value in config[section].items():
            lines.append('%s = %s' % (option, _format(value)))
        lines.append('')
    with open(path, 'w') as stream:
        stream.write('\n'.join(lines))
