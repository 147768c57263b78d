"""HTTP/3 adverts are stripped from Alt-Svc, so browsers stay on TCP where the proxy sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from shadowlens.addons.altsvc import AltSvcStripper
from shadowlens.addons.launcher import shadowlens_addons
from shadowlens.proxy.altsvc import without_quic
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings
from tests.conftest import RULES_DIR


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ('h3=":443"; ma=86400', None),
        ('h3=":443"; ma=86400, h3-29=":443"; ma=86400', None),
        ('H3-Q050=":443", h2=":443"; ma=60', 'h2=":443"; ma=60'),
        ('quic=":443"; ma=2592000; v="46,43", h2="alt.example:443"', 'h2="alt.example:443"'),
        ('h3%2D29=":443", http%2F1.1="x.example:80"', 'http%2F1.1="x.example:80"'),
        ('h2=":443", h3=":443"; persist=1, h2="b.example:8443"',
         'h2=":443", h2="b.example:8443"'),
        ("clear", "clear"),
        ('h3x=":443"', 'h3x=":443"'),  # not an HTTP/3 id
    ],
)  # fmt: skip
def test_without_quic_keeps_every_other_alternative(value: str, kept: str | None) -> None:
    assert without_quic(value) == kept


def _flow(*alt_svc: str) -> http.HTTPFlow:
    headers = http.Headers([(b"alt-svc", v.encode()) for v in alt_svc] + [(b"x-other", b"1")])
    return tflow.tflow(resp=tutils.tresp(headers=headers))


def test_the_addon_strips_h3_and_drops_an_empty_header() -> None:
    stripper = AltSvcStripper()
    with taddons.context(stripper):
        only_h3 = _flow('h3=":443"; ma=86400', 'h3-29=":443"')
        stripper.responseheaders(only_h3)
        mixed = _flow('h3=":443", h2=":443"', 'h3-29=":443"', 'h2="b.example:443"')
        stripper.responseheaders(mixed)
        none = _flow()
        stripper.responseheaders(none)
    assert only_h3.response is not None and "alt-svc" not in only_h3.response.headers
    assert mixed.response is not None
    assert mixed.response.headers.get_all("alt-svc") == ['h2=":443"', 'h2="b.example:443"']
    assert mixed.response.headers["x-other"] == "1"
    assert none.response is not None and list(none.response.headers.keys()) == ["x-other"]


@pytest.mark.parametrize("strip", [True, False])
def test_the_setting_adds_the_addon_to_the_bundle(strip: bool, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rules_dir=RULES_DIR, strip_alt_svc=strip)
    core = Core.open(settings)
    try:
        bundle, *_ = shadowlens_addons(core)
        children = bundle.children  # type: ignore[attr-defined]
    finally:
        core.close()
    assert any(isinstance(a, AltSvcStripper) for a in children) is strip
