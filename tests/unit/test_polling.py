"""The adaptive interval of the bulk node poll."""

import types
import unittest
from unittest import mock

from tripleo_baremetal.provisioning import polling


def node(state):
    return types.SimpleNamespace(provision_state=state,
                                 target_provision_state='active')


class AdaptiveIntervalTest(unittest.TestCase):

    def poll(self, polls):
        """Poll ``polls`` (a state per poll) and return the sleeps."""
        sleeps, now = [], [0.0]
        answers = iter(polls)

        def sleep(seconds):
            sleeps.append(seconds)
            now[0] += seconds

        with mock.patch.object(polling, 'list_nodes', autospec=True,
                               side_effect=lambda *a, **k: {
                                   'n0': node(next(answers))}):
            nodes, done = polling.poll_nodes(
                None, ['n0'], lambda found: found['n0'].provision_state
                == 'active', timeout=1000, interval=1.0, max_interval=10.0,
                clock=lambda: now[0], sleep=sleep)
        self.assertTrue(done)
        return sleeps

    def test_backs_off_while_nothing_changes(self):
        self.assertEqual([1.0, 2.0, 4.0, 8.0, 10.0],
                         self.poll(['deploying'] * 5 + ['active']))

    def test_short_again_after_a_change(self):
        # polling.py: "is short again after a poll that saw a change".
        self.assertEqual([1.0, 2.0, 4.0, 1.0, 2.0],
                         self.poll(['deploying'] * 3 + ['wait call-back'] * 2
                                   + ['active']))
