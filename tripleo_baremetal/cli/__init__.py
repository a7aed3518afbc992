"""The operator's commands: ``openstack overcloud node ...``.

One set of cliff command classes (``node``) serves both the
``openstack`` CLI, as a python-openstackclient plugin (``osc_plugin``),
and the standalone ``tripleo-baremetal`` script (``app``) for hosts
without python-openstackclient. Names and options follow the retired
python-tripleoclient's, so that operators' scripts keep working.

The commands run the Mistral workflows of the installed workbook and
follow them (``follow``); they reach Mistral and Ironic through the
OpenStack CLI session, clouds.yaml and ``OS_*`` variables, or explicit
URLs without Keystone (``clients``).
"""
