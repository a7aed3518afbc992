"""Image reference checks."""

import os
import tempfile
import unittest

from tripleo_baremetal import images


class ImageProblemsTest(unittest.TestCase):

    def problems(self, **image):
        return [(key, problem) for key, _, problem
                in images.image_problems(image)]

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
                {'href': 'file://localhost/img.raw'}]:
            with self.subTest(image=image):
                self.assertEqual([], images.image_problems(image))

    def test_invalid(self):
        cases = [
            ({}, 'href', 'is required'),
            ({'href': 'overcloud-full'}, 'href', 'http, https or file'),
            ({'href': 'http:///x'}, 'href', 'no host'),
            ({'href': 'file://server/x'}, 'href', 'absolute path'),
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

    def test_missing_local_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            present = os.path.join(tmp, 'img.raw')
            open(present, 'w').close()
            image = {'href': 'file://%s' % present,
                     'kernel': 'file://%s/vmlinuz' % tmp,
                     'ramdisk': 'http://x/initrd'}
            self.assertEqual([('kernel', 'file://%s/vmlinuz' % tmp)],
                             images.missing_local_files(image))
