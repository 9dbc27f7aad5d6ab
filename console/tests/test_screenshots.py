"""`make screenshots` photographs every console page there is, and nothing else."""

from console.screenshots import console_pages


def test_every_page_of_the_console_is_photographed_and_no_endpoint_or_login():
    pages = dict(console_pages())

    assert pages["/console/overview/"] == "console-overview.png"
    assert not any(path.startswith(("/console/api/", "/console/log")) for path in pages)
    assert "/console/" not in pages
