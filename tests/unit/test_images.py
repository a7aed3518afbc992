"""Image reference checks."""

import os
import tempfile
import unittest
from unittest import mock

from tripleo_baremetal.common import images


class ImageProblemsTest(unittest.TestCase):

    def problems(self, allowed_paths=None, **image):
        return [(key, problem) for key, _, problem
                in images.image_problems(image, allowed_paths=allowed_paths)]

    def test_valid(self):
        for image in [
                {'href': 'https://example.com/overcloud.qcow2',
                 'checksum': 'a' * 32},
                {'href': 'http://10.0.0.1:8080/img.raw',
                 'checksum': 'sha256:' + 'B' * 64},
                {'href': 'file:///var/lib/ironic/images/x.raw',
                 'checksum': 'f' * 128},
                {'href': 'http://x/img.qcow2',
                 'checksum': 'http://x/SHA256SUMS',
                 'kernel': 'http://x/k', 'ramdisk': 'http://x/r'},
                {'href': 'file://localhost/var/lib/ironic/img.raw'},
                {'href': 'file:///var/lib/ironic'},
                {'href': 'file:///var/lib/ironic/my image.raw'}]:
            with self.subTest(image=image):
                self.assertEqual([], images.image_problems(image))

    def test_invalid(self):
        cases = [
            ({}, 'href', 'is required'),
            # A pre-Wallaby Glance name (roles maps it to a local file).
            ({'href': 'overcloud-full'}, 'href',
             'is a Glance image name, and there is no Glance'),
            ({'href': 'http:///x'}, 'href', 'no host'),
            ({'href': 'http://[::1/x'}, 'href', 'not a valid URL'),
            ({'href': 'file://server/x'}, 'href', 'absolute path'),
            ({'href': 'file:///var/lib/ironic/a\0b'}, 'href',
             'control characters'),
            ({'href': 'http://x/a\nb'}, 'href', 'control characters'),
            ({'href': 'http://x/y', 'checksum': 'z' * 32}, 'checksum',
             'hex digest'),
            ({'href': 'http://x/y', 'checksum': 'a' * 40}, 'checksum',
             'hex digest'),
            ({'href': 'http://x/y', 'checksum': 'md5:' + 'a' * 64},
             'checksum', 'hex digest'),
            ({'href': 'http://x/y', 'checksum': 'sha1:' + 'a' * 40},
             'checksum', 'unknown algorithm'),
            ({'href': 'http://x/y', 'ramdisk': 'http://x/r'}, 'kernel',
             'required when ramdisk is set'),
        ]
        for image, key, fragment in cases:
            with self.subTest(image=image):
                found = self.problems(**image)
                self.assertEqual(1, len(found), found)
                self.assertEqual(key, found[0][0])
                self.assertIn(fragment, found[0][1])

    def test_whole_disk(self):
        self.assertTrue(images.is_whole_disk({'href': 'http://x/y'}))
        self.assertFalse(images.is_whole_disk(
            {'href': 'http://x/y', 'kernel': 'k', 'ramdisk': 'r'}))

    def test_image_type(self):
        self.assertEqual('whole-disk', images.image_type({'href': 'http://x'}))
        self.assertEqual('partition', images.image_type(
            {'href': 'http://x/y', 'kernel': 'k', 'ramdisk': 'r'}))

    def test_missing_local_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            present = os.path.join(tmp, 'img.raw')
            open(present, 'w').close()
            image = {'href': 'file://%s' % present,
                     'kernel': 'file://%s/vmlinuz' % tmp,
                     'ramdisk': 'http://x/initrd'}
            self.assertEqual([('kernel', 'file://%s/vmlinuz' % tmp)],
                             images.missing_local_files(
                                 image, allowed_paths=[tmp]))


class FileUrlTest(unittest.TestCase):
    """Ironic's rules for file:// URLs: a blocklist and an allowlist."""

    def problem(self, url, allowed_paths=None):
        return images.file_url_problem(url, allowed_paths)

    def test_default_allowed_directory(self):
        self.assertEqual(('/var/lib/ironic',), images.FILE_URL_ALLOWED_PATHS)
        self.assertIsNone(self.problem('file:///var/lib/ironic/images/x'))
        self.assertIn('not inside the directories',
                      self.problem('file:///var/lib/ironic-other/x'))
        self.assertIn('/var/lib/ironic', self.problem('file:///srv/x.raw'))

    def test_configured_directories(self):
        allowed = ['/srv/images/', '/data']
        self.assertIsNone(self.problem('file:///srv/images/x.raw', allowed))
        self.assertIsNone(self.problem('file:///data/x.raw', allowed))
        problem = self.problem('file:///var/lib/ironic/x', allowed)
        self.assertIn('/srv/images, /data', problem)
        self.assertIn('file_url_allowed_paths', problem)

    def test_blocked_directories_whatever_is_allowed(self):
        for path in ('/etc/passwd', '/dev/sda', '/proc/self/environ',
                     '/sys/x', '/boot/vmlinuz', '/run/secrets'):
            with self.subTest(path=path):
                self.assertIn('never reads', self.problem('file://' + path,
                                                          ['/']))

    def test_dot_dot_refused(self):
        for url in ('file:///var/lib/ironic/../../etc/shadow',
                    'file:///var/lib/ironic/%2e%2e/%2e%2e/etc/shadow'):
            with self.subTest(url=url):
                self.assertIn('".."', self.problem(url))

    def test_encoded_path_checked_decoded(self):
        self.assertIn('never reads',
                      self.problem('file:///%65tc/passwd', ['/']))

    def test_empty_list_disables_file_urls(self):
        self.assertIn('file URLs are disabled',
                      self.problem('file:///var/lib/ironic/x', []))

    def test_other_urls_are_not_concerned(self):
        self.assertIsNone(self.problem('http://x/etc/passwd'))
        self.assertIsNone(self.problem('not a url'))

    def test_every_url_key_checked(self):
        image = {'href': 'file:///srv/a', 'kernel': 'file:///srv/k',
                 'ramdisk': 'file:///srv/r', 'checksum': 'file:///srv/c'}
        self.assertEqual(['href', 'kernel', 'ramdisk', 'checksum'],
                         [key for key, _, _ in images.image_problems(image)])

    def test_missing_local_files_never_looks_outside(self):
        # Whether /etc/passwd exists must not be told by any message.
        with tempfile.TemporaryDirectory() as tmp:
            image = {'href': 'file:///etc/passwd',
                     'kernel': 'file://%s/no-such-kernel' % tmp,
                     'ramdisk': 'file:///var/lib/ironic/../../etc/passwd',
                     'checksum': 'file://%s/no-such-checksum' % tmp}
            with mock.patch('os.path.exists', return_value=False,
                            autospec=True) as exists:
                self.assertEqual([], images.missing_local_files(image))
            exists.assert_not_called()
            self.assertEqual(
                ['kernel', 'checksum'],
                [key for key, _ in images.missing_local_files(
                    image, allowed_paths=[tmp])])


class RedactionTest(unittest.TestCase):

    def test_password_masked_in_problems(self):
        image = {'href': 'ftp://admin:s3cret@images/x.qcow2',
                 'kernel': 'https://user:pw@host/k', 'ramdisk': 'nope'}
        text = repr(images.image_problems(image))
        self.assertNotIn('s3cret', text)
        self.assertIn('ftp://admin:***@images/x.qcow2', text)

    def test_redacted(self):
        self.assertEqual('https://u:***@h/x',
                         images.redacted('https://u:p@h/x'))
        self.assertEqual('https://h/x', images.redacted('https://h/x'))
        self.assertEqual('https://u@h/x', images.redacted('https://u@h/x'))
