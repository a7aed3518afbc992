"""Reading a roles (or port map) YAML file safely, within limits.

A roles file comes from the operator, and a mistake in it (or a file
that is no roles file at all) must give one line naming the file, never
a traceback or minutes of work: ``load_roles_file`` refuses a file over
MAX_FILE_BYTES, one that is not UTF-8 text, invalid YAML (with the
position), nesting deeper than ``roles_schema.MAX_DEPTH``, and more than
MAX_YAML_NODES nodes once aliases are expanded, all while the YAML is
composed, before any Python object is built.
"""

import yaml

from tripleo_baremetal import exceptions
from tripleo_baremetal.request import limits
from tripleo_baremetal.request import roles_schema as schema

#: Deepest nesting of lists and mappings in any input.
MAX_DEPTH = schema.MAX_DEPTH

#: Largest roles (or port map) file, in bytes.
MAX_FILE_BYTES = 16 * 1024 * 1024

#: Most YAML nodes a file may hold once its aliases are expanded.
MAX_YAML_NODES = 1000000

#: Most characters of the file one ``cloud_config`` or ``meta_data``
#: value may span. As JSON it may take ``limits.MAX_CONFIG_DRIVE_BYTES``
#: (1 MiB); its YAML text, with indentation and comments, may be larger,
#: but not four times as large. Checked while the file is composed, so
#: that a huge one is refused before the seconds building it would take.
MAX_CONFIG_DRIVE_TEXT = 4 * limits.MAX_CONFIG_DRIVE_BYTES

#: The keys whose values MAX_CONFIG_DRIVE_TEXT limits.
CONFIG_DRIVE_PARTS = ('cloud_config', 'meta_data')


class _YamlTooBig(Exception):
    """A YAML document over a limit; the message says which."""


def _yaml_loader(text):
    """A safe loader for ``text``, with libyaml's parser when available."""
    loader_class = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    return loader_class(text)


def _mark(mark):
    return 'line %d, column %d' % (mark.line + 1, mark.column + 1)


class _PartWatch(object):
    """Measures the text of config drive parts while they are composed.

    A value is watched from the event that starts it, under a
    ``cloud_config`` or ``meta_data`` key, until its mapping moves on to
    the next key; every event in between is checked against
    MAX_CONFIG_DRIVE_TEXT.
    """

    def __init__(self):
        #: (start mark, key, depth of its mapping) of the watched value.
        self.watched = None

    def see(self, stack, event):
        """Check ``event`` before it is composed into ``stack``."""
        if self.watched is not None:
            _mark_start, _key, depth = self.watched
            if len(stack) < depth or (len(stack) == depth
                                      and stack[depth - 1][1] is None):
                self.watched = None     # the value is complete
        if self.watched is None:
            parent = stack[-1] if stack else None
            if parent is None or parent[1] is None or not isinstance(
                    parent[0], yaml.MappingNode) or not isinstance(
                    parent[1].value, str) or \
                    parent[1].value not in CONFIG_DRIVE_PARTS:
                return
            self.watched = (event.start_mark, parent[1].value, len(stack))
        start, key, _depth = self.watched
        span = event.end_mark.index - start.index
        if span > MAX_CONFIG_DRIVE_TEXT:
            raise _YamlTooBig(
                '%s: %s spans more than %d characters of the file (%d MiB; '
                'as JSON one config drive part may take at most %d bytes)'
                % (_mark(start), key, MAX_CONFIG_DRIVE_TEXT,
                   MAX_CONFIG_DRIVE_TEXT // (1024 * 1024),
                   limits.MAX_CONFIG_DRIVE_BYTES))


def _compose_events(loader):
    """Compose one YAML document from its events, without recursion.

    The same node graph PyYAML's composer builds (aliases are shared
    nodes), but checked as it is built: nesting deeper than MAX_DEPTH
    and more than MAX_YAML_NODES nodes once aliases are expanded (each
    node's expanded size is known when it ends, so a "billion laughs"
    bomb is counted in linear time, never expanded) raise _YamlTooBig,
    and so does a config drive part spanning more than
    MAX_CONFIG_DRIVE_TEXT characters (``_PartWatch``); an alias inside
    its own anchor raises a ComposerError.
    """
    loader.get_event()                              # StreamStart
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()                              # DocumentStart
    anchors, sizes = {}, {}
    # Open collections: [node, mapping key node or None, size so far].
    stack = []
    root = None
    watch = _PartWatch()
    while True:
        event = loader.get_event()
        watch.see(stack, event)
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            node, _key, size = stack.pop()
            node.end_mark = event.end_mark
            sizes[id(node)] = size
            _add_child(stack, node, size)
            if not stack:
                root = node
                break
            continue
        node, size = _event_node(loader, event, anchors, sizes)
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and \
                size is None:
            if len(stack) >= MAX_DEPTH:
                raise _YamlTooBig('%s: nesting is deeper than %d levels'
                                  % (_mark(event.start_mark), MAX_DEPTH))
            stack.append([node, None, 1])
            continue
        if size > MAX_YAML_NODES:
            raise _YamlTooBig('%s: an alias expands to more than %d nodes'
                              % (_mark(event.start_mark), MAX_YAML_NODES))
        if not stack:
            root = node
            break
        _add_child(stack, node, size)
    loader.get_event()                              # DocumentEnd
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.get_event()
        raise yaml.composer.ComposerError(
            'expected a single document in the stream', None,
            'but found another document', event.start_mark)
    return root


def _add_child(stack, node, size):
    """Add a complete node to the innermost open collection."""
    if not stack:
        return
    parent = stack[-1]
    parent[2] += size
    if parent[2] > MAX_YAML_NODES:
        raise _YamlTooBig('more than %d nodes once aliases are expanded '
                          '(%s)' % (MAX_YAML_NODES, _mark(node.start_mark)))
    if isinstance(parent[0], yaml.SequenceNode):
        parent[0].value.append(node)
    elif parent[1] is None:
        parent[1] = node
    else:
        parent[0].value.append((parent[1], node))
        parent[1] = None


def _event_node(loader, event, anchors, sizes):
    """``(node, expanded size or None while open)`` for one event."""
    if isinstance(event, yaml.AliasEvent):
        node = anchors.get(event.anchor)
        if node is None:
            raise yaml.composer.ComposerError(
                None, None, 'found undefined alias %s'
                % schema.shown(event.anchor), event.start_mark)
        if id(node) not in sizes:
            raise yaml.composer.ComposerError(
                None, None, 'found an alias inside its own anchor %s'
                % schema.shown(event.anchor), event.start_mark)
        return node, sizes[id(node)]
    if event.anchor is not None and event.anchor in anchors:
        raise yaml.composer.ComposerError(
            'found duplicate anchor %s; first occurrence'
            % schema.shown(event.anchor), anchors[event.anchor].start_mark,
            'second occurrence', event.start_mark)
    tag = event.tag
    if isinstance(event, yaml.ScalarEvent):
        if tag is None or tag == '!':
            tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        node = yaml.ScalarNode(tag, event.value, event.start_mark,
                               event.end_mark, style=event.style)
        size = 1
    else:
        kind = (yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent)
                else yaml.MappingNode)
        if tag is None or tag == '!':
            tag = loader.resolve(kind, None, event.implicit)
        node = kind(tag, [], event.start_mark, None,
                    flow_style=event.flow_style)
        size = None
    if event.anchor is not None:
        anchors[event.anchor] = node
        if size is not None:
            sizes[id(node)] = size
    return node, size


def _yaml_error_text(exc):
    """A YAML error on one line: position, problem and context."""
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = []
        if exc.problem_mark is not None:
            parts.append(_mark(exc.problem_mark) + ':')
        parts.append(exc.problem or 'error')
        if exc.context:
            parts.append('(%s%s)' % (exc.context, ' at %s' % _mark(
                exc.context_mark) if exc.context_mark is not None else ''))
        text = ' '.join(parts)
    else:
        text = str(exc)
    return schema.cut(' '.join(text.split()), 3 * schema.MAX_SHOWN)


def _read_text(path):
    """The text of a file, refused with a reason when it is not text."""
    with open(path, 'rb') as stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise exceptions.InvalidInput(
            '%s is too large: a roles or port map file may have at most %d '
            'bytes (%d MiB)' % (path, MAX_FILE_BYTES,
                                MAX_FILE_BYTES // (1024 * 1024)))
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise exceptions.InvalidInput(
            '%s is not a UTF-8 text file (byte 0x%02x at offset %d cannot be '
            'decoded)' % (path, data[exc.start], exc.start))
    if '\0' in text:
        raise exceptions.InvalidInput(
            '%s is not a text file (it has a NUL byte at offset %d)'
            % (path, text.index('\0')))
    return text


def load_roles_file(path):
    """Read a YAML file (a roles or port map file) safely.

    Every problem is an InvalidInput naming the file, on one line: a
    file larger than MAX_FILE_BYTES, not UTF-8 text, not valid YAML (with
    the position), nested deeper than MAX_DEPTH, or holding more than
    MAX_YAML_NODES nodes once its aliases are expanded. Those limits are
    checked while the YAML is composed, before any Python object is
    constructed. Anchors and aliases that share defaults work as usual.

    :raises: InvalidInput, or OSError when the file cannot be read.
    """
    loader = _yaml_loader(_read_text(path))
    try:
        node = _compose_events(loader)
        return None if node is None else loader.construct_document(node)
    except _YamlTooBig as exc:
        raise exceptions.InvalidInput('%s is too large: %s' % (path, exc))
    except yaml.YAMLError as exc:
        raise exceptions.InvalidInput('%s is not valid YAML: %s'
                                      % (path, _yaml_error_text(exc)))
    except ValueError as exc:
        # e.g. an integer of more digits than Python converts.
        raise exceptions.InvalidInput('%s is not valid YAML: %s' % (
            path, schema.cut(' '.join(str(exc).split()))))
    finally:
        loader.dispose()


def load_port_maps(path):
    """Read ``RoleNetPortIdMap``/``RoleCtlplanePortMap`` from a YAML file.

    The file may hold the two outputs at its top level or under
    ``parameter_defaults``.
    """
    data = load_roles_file(path) or {}
    if isinstance(data, dict) and isinstance(
            data.get('parameter_defaults'), dict):
        data = data['parameter_defaults']
    if not isinstance(data, dict):
        raise exceptions.InvalidInput(
            '%s: must be a mapping holding RoleNetPortIdMap and/or '
            'RoleCtlplanePortMap (at the top or under parameter_defaults)'
            % path)
    return data.get('RoleNetPortIdMap'), data.get('RoleCtlplanePortMap')
