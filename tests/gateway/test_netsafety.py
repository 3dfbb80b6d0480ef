import pytest

from gateway.netsafety import UnsafeUrl, address_allowed, check_url


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.1.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "169.254.169.254",
        # IPv6 forms that carry an IPv4 address: compatible, NAT64, local NAT64, 6to4, Teredo.
        "::127.0.0.1",
        "::a9fe:a9fe",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::a00:1",
        "64:ff9b:1::7f00:1",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert not address_allowed(address, allow_private=False)


def test_metadata_stays_refused_when_private_is_allowed():
    assert address_allowed("127.0.0.1", allow_private=True)
    assert address_allowed("10.0.0.5", allow_private=True)
    assert not address_allowed("169.254.169.254", allow_private=True)
    assert not address_allowed("64:ff9b::a9fe:a9fe", allow_private=True)
    assert not address_allowed("2002:a9fe:a9fe::", allow_private=True)


def test_public_addresses_in_ipv6_forms_pass():
    assert address_allowed("64:ff9b::808:808", allow_private=False)  # NAT64 of 8.8.8.8
    assert address_allowed("2002:808:808::1", allow_private=False)  # 6to4 of 8.8.8.8
    assert not address_allowed("::ffff:169.254.169.254", allow_private=True)


def test_public_addresses_pass():
    assert address_allowed("93.184.216.34", allow_private=False)
    assert address_allowed("2606:4700:4700::1111", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http://",
        "javascript:alert(1)",
        "http://user:pw@127.0.0.1/",
        "http://127.0.0.1:99999/",
        "http://localhost:8000/hook",
        "http://[::1]/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_unsafe_urls_are_refused(url, settings):
    settings.ALLOW_PRIVATE_URLS = False
    with pytest.raises(UnsafeUrl):
        check_url(url)


def test_loopback_allowed_only_with_the_setting(settings):
    settings.ALLOW_PRIVATE_URLS = True
    checked = check_url("http://127.0.0.1:8123/hook")
    assert checked.addresses == ("127.0.0.1",)
    assert checked.port == 8123


@pytest.mark.parametrize(
    "url",
    ["https://93.184.215.14/x\r\nHost: evil", "https://93.184.215.14/\tx", "https://a b.com/"],
)
def test_control_characters_and_spaces_are_refused(url, settings):
    settings.ALLOW_PRIVATE_URLS = True
    with pytest.raises(UnsafeUrl, match="control characters"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    ["http://[::ffff:127.0.0.1/", "http://[::1", "http://[]/", "https://[:::1]/", "http://a[b/"],
)
def test_a_malformed_host_is_refused_not_an_error(url):
    with pytest.raises(UnsafeUrl):
        check_url(url, allow_private=False)
