"""The boundary to the OpenStack APIs: which errors pass, which are retried.

Two layers keep a run going through the faults a real undercloud shows
(a conductor restarting, a proxy dropping a connection, a 503 from a
flooded API):

* the *transport* (``install_retries``): every read (GET, HEAD) and every
  DELETE is retried with back-off on HTTP 500/502/503/504, a dropped
  connection or a timeout, by urllib3's ``Retry`` mounted on the
  connection's HTTP session, so that each listing and poll of the core is
  covered without code at the call sites. A request that never reached
  the server (connection refused) is retried whatever its method. Every
  request has a timeout.
* the *call* (``retry``): writes whose repetition is harmless (a JSON
  patch that sets keys, a VIF attach, a provision request followed by a
  read-back) are retried by the caller, which also waits out HTTP 409
  "node is locked". A create whose answer was lost is never repeated
  blindly: the caller reads it back by name (``reservation``).

``ERRORS`` is every exception an API call raises: openstacksdk's and
keystoneauth's (a dropped connection is keystoneauth's ``ConnectFailure``,
not an SDK exception). The core catches exactly these and turns them into
its own exceptions, naming host and node.
"""

import logging
import time

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from requests import adapters
from urllib3.util import retry as urllib3_retry

LOG = logging.getLogger(__name__)

#: Ironic API version of provision requests: a config drive given as a
#: string or a dict (Stein and later).
PROVISION_MICROVERSION = '1.56'
#: The version that takes ``deploy_steps`` with the provision request.
DEPLOY_STEPS_MICROVERSION = '1.69'

#: Every error an openstacksdk call can raise.
ERRORS = (sdk_exc.SDKException, ks_exc.ClientException)

#: HTTP statuses worth another try: the server (or a proxy) failed, not
#: the request.
TRANSIENT_STATUSES = frozenset([500, 502, 503, 504])

#: Methods the transport retries after the request may have arrived.
IDEMPOTENT_METHODS = frozenset(['GET', 'HEAD', 'OPTIONS', 'DELETE'])

#: Longest pause between two tries of one request.
MAX_DELAY = 10.0

#: Retries and first pause of a connection without ``install_retries``.
DEFAULT_ATTEMPTS = 5
DEFAULT_DELAY = 0.5

#: Seconds a call waits at most for a node locked by its conductor.
LOCK_TIMEOUT = 60.0

_LOCKED = ('is locked', 'locked by host')


def is_locked(exc):
    """Whether ``exc`` is Ironic's 409 "Node ... is locked by host ..."."""
    return isinstance(exc, sdk_exc.ConflictException) and any(
        text in str(exc) for text in _LOCKED)


def is_transient(exc):
    """Whether ``exc`` says nothing about the request itself.

    A dropped or refused connection, a timeout, or HTTP 5xx: the same
    request may succeed when sent again (for a write: after reading back
    whether the first one took effect).
    """
    if isinstance(exc, ks_exc.ConnectionError):
        # ConnectFailure, ConnectTimeout, SSLError, UnknownConnectionError.
        return not isinstance(exc, ks_exc.SSLError)
    if isinstance(exc, (ks_exc.RetriableConnectionFailure,
                        ks_exc.GatewayTimeout, ks_exc.ServiceUnavailable,
                        ks_exc.BadGateway)):
        return True
    if isinstance(exc, sdk_exc.HttpException):
        return (exc.status_code or 0) in TRANSIENT_STATUSES
    return False


def describe(exc):
    """A one-line account of an API error, cut to a readable length."""
    text = ' '.join(str(exc).split()) or type(exc).__name__
    if len(text) > 300:
        text = text[:297] + '...'
    if isinstance(exc, ks_exc.ConnectionError):
        return 'no answer from the API (%s): %s' % (type(exc).__name__,
                                                    text)
    return text


def _transport_retry(retries, delay):
    options = dict(total=retries, connect=retries, read=retries,
                   status=retries, other=0,
                   allowed_methods=IDEMPOTENT_METHODS,
                   status_forcelist=TRANSIENT_STATUSES,
                   backoff_factor=delay, raise_on_status=False,
                   respect_retry_after_header=True)
    try:
        return urllib3_retry.Retry(backoff_max=MAX_DELAY, **options)
    except TypeError:   # urllib3 < 2 caps the back-off with a constant
        return urllib3_retry.Retry(**options)


def install_retries(conn, retries=5, delay=0.5, timeout=60.0):
    """Make ``conn`` retry transient failures of safe requests.

    :param conn: an openstacksdk Connection; its keystoneauth session's
        HTTP session gets a retrying adapter (shared by every service the
        connection talks to: Ironic and Neutron alike).
    :param retries: tries after the first one, per request.
    :param delay: first back-off pause in seconds (doubling).
    :param timeout: seconds per request (connect and read).
    :returns: ``conn``.
    """
    session = conn.session
    session.timeout = float(timeout)
    # The callers' own retries (``retry``) follow the same options.
    session.tripleo_baremetal_retries = (int(retries), float(delay))
    adapter = adapters.HTTPAdapter(max_retries=_transport_retry(retries,
                                                                delay))
    for prefix in ('http://', 'https://'):
        session.session.mount(prefix, adapter)
    return conn


def _policy(call, attempts, delay):
    """``(attempts, delay)``: given, else the connection's, else defaults.

    ``install_retries`` records the ``api_retries`` and
    ``api_retry_delay`` options on the connection's session; an SDK
    proxy method (``conn.baremetal.get_node``) reaches it through its
    proxy, so callers need not pass the options along.
    """
    session = getattr(getattr(call, '__self__', None), 'session', None)
    found = getattr(session, 'tripleo_baremetal_retries', None) or (
        DEFAULT_ATTEMPTS, DEFAULT_DELAY)
    return (found[0] if attempts is None else attempts,
            found[1] if delay is None else delay)


def retry(call, *args, what='API call', attempts=None, delay=None,
          lock_timeout=LOCK_TIMEOUT, clock=time.monotonic, sleep=time.sleep,
          **kwargs):
    """Call ``call(*args, **kwargs)``, retrying transient errors and locks.

    For calls that are safe to repeat (or whose caller reads back what a
    lost answer did). A 409 "node is locked" is waited out for up to
    ``lock_timeout`` seconds, other transient errors are tried again up to
    ``attempts`` more times; any other error is raised at once.

    :param what: names the call in log messages.
    :param attempts: retries of transient errors; default the
        connection's ``api_retries`` (``install_retries``).
    :param delay: first pause between two tries; default the
        connection's ``api_retry_delay``.
    """
    attempts, delay = _policy(call, attempts, delay)
    deadline = clock() + lock_timeout
    pause, tries = delay, 0
    while True:
        try:
            return call(*args, **kwargs)
        except ERRORS as exc:
            if is_locked(exc):
                if clock() >= deadline:
                    raise
            elif not is_transient(exc) or tries >= attempts:
                raise
            else:
                tries += 1
            LOG.debug('%s: %s; trying again in %.1fs', what, describe(exc),
                      pause)
            sleep(pause)
            pause = min(max(pause, 0.05) * 2, MAX_DELAY)


def set_provision_state(conn, node_id, target, what=None, attempts=None,
                        delay=None, **body):
    """Request provision ``target`` for a node: one PUT, no read-back.

    The SDK's ``set_node_provision_state`` reads the whole node again
    after the PUT; our callers poll in bulk anyway, so that GET is waste.
    Retried as ``retry`` says (a locked node, transient errors); when a
    retry is refused because the first request did arrive (HTTP 400/409:
    the node is already on its way), the caller reads the node back.

    :param attempts: retries of transient errors (``retry``).
    :param delay: first pause between two tries.
    :param body: more of the request body, e.g. ``configdrive``.
    :raises: one of ``ERRORS``.
    """
    what = what or 'provision %s of node %s' % (target, node_id)

    def send():
        response = conn.baremetal.put(
            'nodes/%s/states/provision' % node_id,
            json=dict(body, target=target),
            microversion=(DEPLOY_STEPS_MICROVERSION if 'deploy_steps' in body
                          else PROVISION_MICROVERSION))
        sdk_exc.raise_from_response(response, error_message=what)

    attempts, delay = _policy(conn.baremetal.put, attempts, delay)
    retry(send, what=what, attempts=attempts, delay=delay)
