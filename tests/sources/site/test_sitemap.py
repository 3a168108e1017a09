"""Sitemap parsing (urlsets, indexes, namespaces, gzip, malformed documents) and reading sitemaps over HTTP."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from docsbot.sources.site.fetch import FetchOptions, PoliteFetcher
from docsbot.sources.site.sitemap import SitemapError, parse_sitemap, read_sitemaps
from tests.harness.fakes.site_server import SiteServer

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*locs: str, namespace: str = NS) -> str:
    entries = "".join(f"<url><loc> {loc} </loc><lastmod>2025-01-01</lastmod></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {namespace}>{entries}</urlset>'


def sitemap_index(*locs: str) -> str:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex {NS}>{entries}</sitemapindex>'


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


@pytest.fixture
def fetcher(site: SiteServer) -> Iterator[PoliteFetcher]:
    with PoliteFetcher(FetchOptions(allowed_hosts=(site.host,), delay_seconds=0, backoff_seconds=0.01)) as f:
        yield f


# --- parse_sitemap ---------------------------------------------------------------------------------


def test_parse_a_urlset_with_or_without_the_namespace() -> None:
    for namespace in (NS, "", 'xmlns="http://www.google.com/schemas/sitemap/0.84"'):
        document = parse_sitemap(urlset("https://x.test/a", "https://x.test/b", namespace=namespace).encode())
        assert document.kind == "urlset"
        assert document.locs == ("https://x.test/a", "https://x.test/b")


def test_parse_a_sitemap_index() -> None:
    document = parse_sitemap(sitemap_index("https://x.test/s1.xml", "https://x.test/s2.xml").encode())
    assert document.kind == "sitemapindex"
    assert document.locs == ("https://x.test/s1.xml", "https://x.test/s2.xml")


def test_parse_gzip() -> None:
    document = parse_sitemap(gzip.compress(urlset("https://x.test/a").encode()))
    assert document.locs == ("https://x.test/a",)


def test_loc_elements_elsewhere_are_ignored() -> None:
    xml = f"<urlset {NS}><url><loc>https://x.test/a</loc><image><loc>https://x.test/i.png</loc></image></url></urlset>"
    assert parse_sitemap(xml.encode()).locs == ("https://x.test/a",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (f"<urlset {NS}><url><loc>https://x.test/a</loc></url>".encode(), "not well-formed"),
        (b"<html><body>Page not found</body></html>", "root element is <html>"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>', "DTD"),
        (b"\x1f\x8bnot really gzip", "gzip"),
    ],
)
def test_malformed_sitemaps_raise_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(SitemapError, match=message):
        parse_sitemap(data)


def test_size_and_entry_limits() -> None:
    with pytest.raises(SitemapError, match="over 100 bytes"):
        parse_sitemap(urlset(*[f"https://x.test/{n}" for n in range(10)]).encode(), max_bytes=100)
    with pytest.raises(SitemapError, match="over 100 bytes"):
        parse_sitemap(gzip.compress(urlset(*[f"https://x.test/{n}" for n in range(10)]).encode()), max_bytes=100)
    with pytest.raises(SitemapError, match="more than 3 entries"):
        parse_sitemap(urlset(*[f"https://x.test/{n}" for n in range(10)]).encode(), max_entries=3)


# --- read_sitemaps over HTTP ---------------------------------------------------------------------


def test_a_sitemap_index_with_nested_sitemaps(site: SiteServer, fetcher: PoliteFetcher) -> None:
    site.route("/sitemap.xml", body=sitemap_index(site.at("/s1.xml"), site.at("/nested.xml")), content_type="text/xml")
    site.route("/s1.xml", body=urlset(site.at("/a"), site.at("/b")), content_type="application/xml")
    site.route("/nested.xml", body=sitemap_index(site.at("/s2.xml.gz"), site.at("/s1.xml")), content_type="text/xml")
    site.route("/s2.xml.gz", body=gzip.compress(urlset(site.at("/c"), site.at("/a")).encode()), content_type=None)
    discovery = read_sitemaps(fetcher.fetch_document, [site.at("/sitemap.xml")])
    assert discovery.urls == [site.at("/a"), site.at("/b"), site.at("/c")]
    assert discovery.sitemaps_read == [site.at(p) for p in ("/sitemap.xml", "/s1.xml", "/nested.xml", "/s2.xml.gz")]
    assert discovery.found and discovery.complete and discovery.problems == []


def test_accept_filters_and_max_urls_bounds(site: SiteServer, fetcher: PoliteFetcher) -> None:
    site.route("/sitemap.xml", body=urlset(*[site.at(f"/docs/{n}") for n in range(5)], site.at("/blog/x")))
    discovery = read_sitemaps(
        fetcher.fetch_document, [site.at("/sitemap.xml")], accept=lambda url: "/docs/" in url, max_urls=3
    )
    assert discovery.urls == [site.at(f"/docs/{n}") for n in range(3)]
    assert discovery.limit_reached and not discovery.complete


def test_nesting_and_count_are_bounded(site: SiteServer, fetcher: PoliteFetcher) -> None:
    for level in range(6):  # an index pointing to an index pointing to ... (or to itself)
        site.route(f"/i{level}.xml", body=sitemap_index(site.at(f"/i{level + 1}.xml"), site.at(f"/i{level}.xml")))
    deep = read_sitemaps(fetcher.fetch_document, [site.at("/i0.xml")], max_depth=2)
    assert deep.sitemaps_read == [site.at("/i0.xml"), site.at("/i1.xml"), site.at("/i2.xml")]
    assert any("nested deeper" in problem for problem in deep.problems)
    counted = read_sitemaps(fetcher.fetch_document, [site.at("/i0.xml")], max_sitemaps=2)
    assert len(counted.sitemaps_read) == 2 and any("stopped after 2" in p for p in counted.problems)


def test_a_malformed_child_sitemap_is_reported_not_raised(site: SiteServer, fetcher: PoliteFetcher) -> None:
    site.route("/sitemap.xml", body=sitemap_index(site.at("/good.xml"), site.at("/bad.xml"), site.at("/gone.xml")))
    site.route("/good.xml", body=urlset(site.at("/a")))
    site.route("/bad.xml", body="<urlset><url><loc>oops")
    discovery = read_sitemaps(fetcher.fetch_document, [site.at("/sitemap.xml")])
    assert discovery.urls == [site.at("/a")]
    assert discovery.found and not discovery.complete
    assert len(discovery.problems) == 2
    assert "bad.xml: not well-formed XML" in discovery.problems[0]
    assert "gone.xml: http_404" in discovery.problems[1]


def test_no_sitemap_is_not_found(site: SiteServer, fetcher: PoliteFetcher) -> None:
    discovery = read_sitemaps(fetcher.fetch_document, [site.at("/sitemap.xml")])
    assert not discovery.found and discovery.urls == [] and "http_404" in discovery.problems[0]
