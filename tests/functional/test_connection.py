"""Actions connect with openstacksdk's environment alone (OS_CLOUD)."""

import os
from unittest import mock

from oslo_config import cfg
from oslo_config import fixture as config_fixture

from tests.functional import base
from tripleo_baremetal import actions
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal.request import roles

CLOUDS_YAML = """clouds:
  standalone:
    auth_type: none
    baremetal_endpoint_override: %s
"""


class EnvironmentConnectionTest(base.IronicTestCase):

    def setUp(self):
        super().setUp()
        # No [tripleo_baremetal] connection option: the environment decides.
        fixture = config_fixture.Config(cfg.CONF)
        fixture.setUp()
        self.addCleanup(fixture.cleanUp)
        baremetal_conf.get_conf()
        fixture.config(group=baremetal_conf.GROUP, cloud=None,
                       auth_type=None, baremetal_endpoint_override=None)
        path = os.path.join(self.base_dir, 'clouds.yaml')
        with open(path, 'w') as stream:
            stream.write(CLOUDS_YAML % self.ironic.url)
        patcher = mock.patch.dict(os.environ, {
            'OS_CLOUD': 'standalone', 'OS_CLIENT_CONFIG_FILE': path})
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_action_lists_nodes_with_os_cloud(self):
        self.enrol_nodes([{'name': 'node-0',
                           'capabilities': {'profile': 'compute'}}])
        instances = roles.expand_roles([{
            'name': 'Compute', 'count': 1,
            'defaults': {'profile': 'compute'}}],
            default_image='http://images.example.com/overcloud.raw')[
            'instances']
        result = actions.PickNodes([inst.to_dict() for inst in instances],
                                   dry_run=True).run(None)
        self.assertNotIsInstance(result, actions.actions.Result, result)
        self.assertEqual({'overcloud-novacompute-0': 'node-0'},
                         result['plan'])
