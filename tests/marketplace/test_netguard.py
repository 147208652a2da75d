import pytest

from marketplace.netguard import outbound_url_error


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",  # Redis on loopback
        "http://localhost:5432/",
        "http://10.0.0.5/hook",  # private range
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]:8000/admin/",
        "http://0.0.0.0/",
    ],
)
def test_internal_targets_are_refused(url):
    assert outbound_url_error(url, allow_private=False) is not None


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://127.0.0.1:6379/_", "http:///nohost"])
def test_only_http_urls_with_a_host_are_accepted(url):
    assert outbound_url_error(url, allow_private=True) is not None


def test_a_public_address_is_accepted_and_loopback_only_when_allowed():
    assert outbound_url_error("https://93.184.216.34/hook", allow_private=False) is None  # a literal public IP: no DNS
    assert outbound_url_error("http://127.0.0.1:9/hook", allow_private=True) is None


def test_an_unresolvable_host_is_refused():
    assert outbound_url_error("https://no-such-host.invalid/hook", allow_private=False) == "The host name does not resolve."
