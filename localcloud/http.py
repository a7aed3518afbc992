"""Tiny JSON-over-HTTP helper for readiness checks on 127.0.0.1.

Proxies from the environment are ignored: the services are local, and a
``http_proxy`` without ``no_proxy`` would otherwise send the probes
elsewhere.
"""

import json
import urllib.error
import urllib.request


def get_json(url, timeout=5):
    """GET ``url``; its JSON body, or None if the service does not answer.

    Connection errors, HTTP errors and non-JSON answers all mean "not
    ready yet" to the callers.
    """
    request = urllib.request.Request(url,
                                     headers={'Accept': 'application/json'})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return json.loads(response.read().decode('utf-8'))
    except (OSError, ValueError, urllib.error.URLError):
        return None
