"""The adaptive interval of the bulk node poll."""

import types
import unittest
from unittest import mock

from tripleo_baremetal import exceptions
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


class SettledAllocationsTest(unittest.TestCase):
    """Waiting for allocations another run is still making."""

    def settle(self, polls, timeout):
        """``polls``: per poll, the hostnames still allocating."""
        now = [0.0]
        answers = iter(polls)

        def sleep(seconds):
            now[0] += seconds

        def allocations(conn, fields):
            busy = next(answers)
            return [types.SimpleNamespace(
                name=host, state='allocating' if host in busy else 'active')
                for host in ('h0', 'h1', 'h2')]

        with mock.patch.object(polling.listing, 'allocations', autospec=True,
                               side_effect=allocations):
            return polling.settled_allocations(
                None, {'h0', 'h1', 'h2'}, timeout, clock=lambda: now[0],
                sleep=sleep)

    def test_a_wait_that_progresses_is_not_cut_off(self):
        # Longer in all (6 polls of 0.5 s) than the timeout of 1 s, but
        # one allocation ends every other poll.
        polls = [{'h0', 'h1', 'h2'}] * 2 + [{'h1', 'h2'}] * 2 + [{'h2'}] * 2
        result = self.settle(polls + [set()], timeout=1)
        self.assertEqual({'h0', 'h1', 'h2'}, set(result))

    def test_a_stall_is_refused_after_the_timeout(self):
        polls = [{'h0', 'h1'}] + [{'h1'}] * 10
        with self.assertRaisesRegex(exceptions.NodeStateError,
                                    'allocations of h1 are still being '
                                    'processed by Ironic after 1s'):
            self.settle(polls, timeout=1)
