"""Property-based tests: invariants of roles expansion on random input."""

import re
import unittest

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tripleo_baremetal.request import hostnames
from tripleo_baremetal.request import roles

ROLE_NAMES = ['Controller', 'Compute', 'CephStorage', 'Networker',
              'ObjectStorage']
FORMATS = [None, '%stackname%-%index%-x', 'h%index%-%stackname%',
           'n-%index%']


@st.composite
def role_entries(draw, name, fmt):
    count = draw(st.integers(min_value=0, max_value=6))
    hostname_format = fmt or hostnames.default_format(name)
    label = re.sub('[^a-z0-9]', '', name.lower())
    instances = []
    # Some generated names, some removed, some custom hostnames.
    for index in draw(st.sets(st.integers(0, 9), max_size=4)):
        instances.append({
            'hostname': hostnames.render(hostname_format, 'overcloud',
                                         index),
            'provisioned': draw(st.booleans())})
    for number in range(draw(st.integers(0, 2))):
        instances.append({'hostname': 'custom-%s-%d' % (label, number),
                          'provisioned': draw(st.booleans()),
                          'managed': draw(st.booleans())})
    provisioned = sum(1 for inst in instances if inst['provisioned'])
    role = {'name': name, 'count': max(count, provisioned),
            'instances': instances}
    if fmt:
        role['hostname_format'] = fmt
    return role


@st.composite
def roles_files(draw):
    names = draw(st.lists(st.sampled_from(ROLE_NAMES), unique=True,
                          min_size=1, max_size=4))
    formats = draw(st.permutations(FORMATS))
    result = []
    for name, fmt in zip(names, formats):
        if fmt and fmt.startswith('n-'):
            fmt = fmt.replace('n-', name.lower() + '-')
        result.append(draw(role_entries(name, fmt)))
    return result


def format_regex(hostname_format, stackname):
    pattern = re.escape(hostname_format).replace(
        re.escape('%stackname%'), re.escape(stackname)).replace(
        re.escape('%index%'), '[0-9]+')
    return re.compile('^%s$' % pattern)


class PropertiesTest(unittest.TestCase):

    @settings(max_examples=150, deadline=None)
    @given(roles_files())
    def test_invariants(self, roles_file):
        result = roles.expand_roles(roles_file, stackname='overcloud')
        everyone = result['instances'] + result['unprovisioned']
        names = [inst.hostname for inst in everyone]
        self.assertEqual(len(names), len(set(names)))
        params = result['environment']['parameter_defaults']
        for role in roles_file:
            name = role['name']
            mine = [inst for inst in result['instances']
                    if inst.role == name]
            self.assertEqual(role['count'], len(mine))
            self.assertEqual(role['count'], params['%sCount' % name])
            removed = {inst.index for inst in result['unprovisioned']
                       if inst.role == name}
            self.assertFalse(removed & {inst.index for inst in mine})
            policies = params.get('%sRemovalPolicies' % name)
            if removed:
                self.assertEqual([{'resource_list': sorted(removed)}],
                                 policies)
            regex = format_regex(params['%sHostnameFormat' % name],
                                 'overcloud')
            for inst in mine:
                self.assertRegex(inst.generated_hostname, regex)
        self.assertEqual(len(result['instances']), len(params['HostnameMap']))
        for generated, hostname in params['HostnameMap'].items():
            self.assertIn(hostname, names)

    @settings(max_examples=60, deadline=None)
    @given(roles_files(), st.data())
    def test_scaled_down_indexes_never_return(self, roles_file, data):
        """Scale down some servers, then scale up: no removed index is reused.

        This is the operator's sequence: deploy, mark hosts
        ``provisioned: false`` (keeping them in the file), later raise
        ``count`` again.
        """
        first = roles.expand_roles(roles_file)
        victims = data.draw(st.lists(st.sampled_from(
            [inst.hostname for inst in first['instances']] or ['none']),
            unique=True, max_size=3))
        for role in roles_file:
            listed = {inst['hostname']: inst for inst in role['instances']}
            mine = [inst.hostname for inst in first['instances']
                    if inst.role == role['name']]
            for hostname in mine:
                if hostname not in listed:
                    listed[hostname] = {'hostname': hostname}
                    role['instances'].append(listed[hostname])
            for hostname in victims:
                if hostname in mine:
                    listed[hostname]['provisioned'] = False
                    role['count'] -= 1
        second = roles.expand_roles(roles_file)
        removed = {(inst.role, inst.index)
                   for inst in second['unprovisioned']}
        removed_names = {inst.hostname for inst in second['unprovisioned']}
        for role in roles_file:
            role['count'] += data.draw(st.integers(0, 3))
        third = roles.expand_roles(roles_file)
        for inst in third['instances']:
            self.assertNotIn((inst.role, inst.index), removed)
            self.assertNotIn(inst.hostname, removed_names)
        kept = {inst.hostname for inst in second['instances']}
        self.assertLessEqual(kept, {inst.hostname
                                    for inst in third['instances']})
