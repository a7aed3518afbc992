"""RAID configurations and deploy steps of a role, checked up front.

A roles file may give a role (or an instance) ``raid_config``, Ironic's
*target RAID configuration* (``logical_disks`` with ``size_gb``,
``raid_level``, ``is_root_volume`` ...), and ``deploy_steps``, Ironic
deploy steps (``interface``, ``step``, ``args``, ``priority``) to run
with the deploy. Both are checked (``roles_schema``) with Ironic's own
rules (its RAID schema and its deploy step schema, whose values are
here), so that a bad level or a missing priority is a roles-file error
naming the key path rather than an HTTP 400 in the middle of a run.

``steps_to_send`` gives the steps the provision request carries: the
requested ones plus ``raid.apply_configuration`` when a RAID config is
given and no step applies it. ``requested`` names what must then be
seen to have run (Ironic silently drops a step no interface of the node
offers).

Pure: no API calls.
"""

import copy

#: Ironic's RAID levels (its ``raid_config_schema.json``).
RAID_LEVELS = ('JBOD', '0', '1', '2', '5', '6', '1+0', '5+0', '6+0')

#: Interfaces a deploy step may name (Ironic's deploy step schema).
STEP_INTERFACES = ('vendor', 'power', 'management', 'firmware', 'deploy',
                   'bios', 'raid')

#: The step that builds the target RAID configuration during a deploy.
RAID_STEP = ('raid', 'apply_configuration')

#: Its priority when we add it: after ``deploy.deploy`` (100), which boots
#: the deploy agent, and before the image is written (80).
RAID_STEP_PRIORITY = 90

DISK_TYPES = ('hdd', 'ssd')
INTERFACE_TYPES = ('sata', 'scsi', 'sas')


def raid_level(value):
    """A RAID level as Ironic spells it: YAML's ``1`` becomes ``'1'``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def normal_raid_config(value):
    """A checked ``raid_config`` with RAID levels as strings (a copy)."""
    if value is None:
        return None
    value = copy.deepcopy(value)
    for disk in value['logical_disks']:
        disk['raid_level'] = raid_level(disk['raid_level'])
    return value


def normal_steps(value):
    """Checked deploy steps with ``args`` filled in (copies)."""
    return tuple(dict(copy.deepcopy(step), args=copy.deepcopy(
        step.get('args') or {})) for step in value or ())


def steps_to_send(deploy_steps, raid_config):
    """The deploy steps of the provision request, as a list of dicts.

    ``raid.apply_configuration`` (with the RAID config as its argument) is
    added when ``raid_config`` is given and no requested step names it.
    """
    steps = [copy.deepcopy(step) for step in deploy_steps or ()]
    if raid_config and not any(_name(step) == RAID_STEP for step in steps):
        steps.append({'interface': RAID_STEP[0], 'step': RAID_STEP[1],
                      'args': {'raid_config': copy.deepcopy(raid_config)},
                      'priority': RAID_STEP_PRIORITY})
    return steps


def requested(deploy_steps, raid_config):
    """``(interface, step)`` names that must be seen to run (priority > 0)."""
    return sorted({_name(step) for step in steps_to_send(deploy_steps,
                                                         raid_config)
                   if step.get('priority')})


def _name(step):
    return (step.get('interface'), step.get('step'))
