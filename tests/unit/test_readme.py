"""The README as a front door: its first lines and its links."""

import os
import re
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LINK = re.compile(r'\]\(([^)\s]+)\)')


def readme():
    with open(os.path.join(TOP, 'README.md')) as stream:
        return stream.read()


class ReadmeTest(unittest.TestCase):

    def test_starts_with_the_two_commands(self):
        lines = readme().splitlines()
        self.assertEqual('```console', lines[2])
        self.assertTrue(lines[3].startswith('python3 tools/tox -e demo '))
        self.assertTrue(lines[4].startswith('python3 tools/tox '))
        self.assertEqual('```', lines[5])

    def test_local_links_resolve(self):
        links = [target for target in LINK.findall(readme())
                 if '://' not in target]
        self.assertTrue(links)
        for target in links:
            path = target.partition('#')[0]
            self.assertTrue(os.path.exists(os.path.join(TOP, path)), target)

    def test_short(self):
        self.assertLessEqual(len(readme().splitlines()), 210)
