"""Parsing node capabilities and matching requested ones."""

import unittest

from tripleo_baremetal.common import capabilities as caps


class ParseTest(unittest.TestCase):

    def test_string(self):
        self.assertEqual({'profile': 'control', 'boot_option': 'local'},
                         caps.parse('profile:control,boot_option:local'))

    def test_spaces_and_colons_in_values(self):
        self.assertEqual({'a': 'b', 'url': 'http://x:80/y'},
                         caps.parse(' a : b , url:http://x:80/y'))

    def test_entries_without_value_are_ignored(self):
        self.assertEqual({'a': 'b'}, caps.parse('a:b,,junk,:novalue'))

    def test_empty(self):
        for value in (None, '', {}):
            with self.subTest(value=value):
                self.assertEqual({}, caps.parse(value))

    def test_dict(self):
        self.assertEqual({'profile': 'compute', 'uefi': 'true', 'n': '4'},
                         caps.parse({'profile': 'compute', 'uefi': True,
                                     'n': 4}))


class MatchesTest(unittest.TestCase):

    def check(self, requirement, matching, not_matching):
        for value in matching:
            with self.subTest(requirement=requirement, value=value):
                self.assertTrue(caps.matches(requirement, value))
        for value in not_matching:
            with self.subTest(requirement=requirement, value=value):
                self.assertFalse(caps.matches(requirement, value))

    def test_exact(self):
        self.check('control', ['control'], ['Control', 'controller', None])

    def test_exact_with_spaces(self):
        self.check('fast disk', ['fast disk'], ['fast', 'disk'])

    def test_numeric_equal_sign_means_at_least(self):
        self.check('= 4', ['4', '4.0', '16'], ['3', 'four', None])

    def test_numeric_eq(self):
        self.check('== 4', ['4', '4.0'], ['5', 'x'])

    def test_numeric_ne(self):
        self.check('!= 4', ['5', '3.5'], ['4.0', 'x'])

    def test_numeric_ge(self):
        self.check('>= 8', ['8', '16', '8.5'], ['7', '7.99', 'lots'])

    def test_numeric_le(self):
        self.check('<= 8', ['8', '2'], ['9'])

    def test_string_ops(self):
        self.check('s== abc', ['abc'], ['abd', 'ABC'])
        self.check('s!= abc', ['abd'], ['abc'])
        self.check('s< b', ['a', 'abc'], ['b', 'c'])
        self.check('s<= b', ['a', 'b'], ['ba', 'c'])
        self.check('s> b', ['c', 'ba'], ['b', 'a'])
        self.check('s>= 2.0', ['2.0', '3', '2.1'], ['10', '1.9'])

    def test_in(self):
        self.check('<in> gpu', ['gpu', 'nvidia-gpu-a100'], ['GPU', 'cpu'])

    def test_all_in(self):
        self.check('<all-in> avx sse', ['avx,sse4', 'sse avx2'],
                   ['avx', 'sse'])

    def test_or(self):
        self.check('<or> control <or> compute',
                   ['control', 'compute'], ['storage', 'control compute'])
        self.check('<or> only', ['only'], ['other'])

    def test_missing_value_never_matches_an_operator(self):
        for requirement in ('>= 1', 's== a', '<in> a', '<or> a <or> b'):
            with self.subTest(requirement=requirement):
                self.assertFalse(caps.matches(requirement, None))


class ValidateTest(unittest.TestCase):

    def test_is_exact(self):
        self.assertTrue(caps.is_exact('control'))
        self.assertTrue(caps.is_exact('fast disk'))
        self.assertFalse(caps.is_exact('>= 4'))
        self.assertFalse(caps.is_exact('<or> a <or> b'))

    def test_valid(self):
        for requirement in ('control', '>= 4', '= 2.5', 's>= 2.0',
                            '<in> a', '<all-in> a b c', '<or> a',
                            '<or> a <or> b <or> c', 'fast disk', '4'):
            with self.subTest(requirement=requirement):
                self.assertIsNone(caps.validate(requirement))

    def test_invalid(self):
        cases = [('>=', 'needs a value'),
                 ('>= many', 'needs a number'),
                 ('== 1 2', 'takes one value'),
                 ('<in>', 'needs a value'),
                 ('<or> a b', 'expected "<or> a <or> b ..."'),
                 ('<or> a <or>', 'expected'),
                 ('<or> <or> a', 'expected'),
                 ('s< a b', 'takes one value')]
        for requirement, message in cases:
            with self.subTest(requirement=requirement):
                self.assertIn(message, caps.validate(requirement))


class MismatchTest(unittest.TestCase):

    def test_all_match(self):
        self.assertIsNone(caps.mismatch(
            {'profile': 'control', 'cpus': '>= 4'},
            {'profile': 'control', 'cpus': '8', 'boot_option': 'local'}))

    def test_wrong_value(self):
        self.assertEqual("capability profile is 'compute' (want 'control')",
                         caps.mismatch({'profile': 'control'},
                                       {'profile': 'compute'}))

    def test_missing(self):
        self.assertEqual("capability profile missing (want 'control')",
                         caps.mismatch({'profile': 'control'}, {}))

    def test_not_a_number(self):
        self.assertEqual("capability cpus is 'many', not a number "
                         "(want '>= 4')",
                         caps.mismatch({'cpus': '>= 4'}, {'cpus': 'many'}))

    def test_first_key_in_sorted_order(self):
        self.assertIn('capability a ',
                      caps.mismatch({'b': 'x', 'a': 'x'}, {}))
